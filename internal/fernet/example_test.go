package fernet_test

import (
	"fmt"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

func Example() {
	// A key as Python's Fernet.generate_key() prints it.
	key, err := fernet.ParseKey("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")
	if err != nil {
		panic(err)
	}
	tok := key.Encrypt([]byte("postgres password"))
	msg, err := key.Decrypt(tok)
	fmt.Println(string(msg), err)
	// Output: postgres password <nil>
}

func ExampleKey_DecryptAt() {
	key := fernet.GenerateKey()
	made := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tok := key.EncryptAt([]byte("session"), made)

	_, err := key.DecryptAt(tok, time.Minute, made.Add(time.Minute))
	fmt.Println("after 60 s with a 60 s TTL:", err)
	_, err = key.DecryptAt(tok, time.Minute, made.Add(61*time.Second))
	fmt.Println("after 61 s:", err)
	_, err = key.DecryptAt(tok, 0, made)
	fmt.Println("TTL 0, same second:", err)
	_, err = key.DecryptAt(tok, time.Hour, made.Add(-61*time.Second))
	fmt.Println("61 s before it was made:", err)
	_, err = key.DecryptAt(tok, fernet.NoTTL, time.Time{})
	fmt.Println("no TTL:", err)
	// Output:
	// after 60 s with a 60 s TTL: <nil>
	// after 61 s: fernet: invalid token
	// TTL 0, same second: <nil>
	// 61 s before it was made: fernet: invalid token
	// no TTL: <nil>
}

func ExampleKey_ID() {
	key, _ := fernet.ParseKey("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=")
	fmt.Println(key.ID())
	fmt.Println(key) // a key prints only its ID
	// Output:
	// 54587da32903
	// fernet.Key(54587da32903)
}

func ExampleParseKey_error() {
	_, err := fernet.ParseKey("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4")
	fmt.Println(err)
	// Output: fernet: invalid key: missing '=' padding; want 44 characters of URL-safe base64
}

func ExampleRing_Rotate() {
	old, current := fernet.GenerateKey(), fernet.GenerateKey()
	made := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	tok := old.EncryptAt([]byte("api key"), made)

	ring, _ := fernet.NewRing(current, old) // primary first
	msg, k, _ := ring.DecryptWithKey(tok)
	fmt.Println(string(msg), k == old)

	rotated, _ := ring.Rotate(tok)
	msg, _ = current.Decrypt(rotated)
	ts, _ := current.ExtractTimestamp(rotated)
	fmt.Println(string(msg), ts.Equal(made))
	// Output:
	// api key true
	// api key true
}
