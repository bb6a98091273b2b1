// Command revoke measures how long a revocation on one node takes to be
// refused on another node of the same PostgreSQL store: for each round it
// logs in on node A, makes node B cache the token (GET /v1/auth/self),
// polls B with the token in a tight loop, revokes on A and records the
// time from sending the revoke to B's first 401. bench/revoke/run.sh
// starts the two nodes; this program only speaks HTTP to them.
//
//	revoke -a http://127.0.0.1:18301 -b http://127.0.0.1:18302 \
//	    -credential-file gateway.credential -admin-file admin.credential -mode token -n 50
//
// -mode token revokes the round's token (POST /v1/auth/revoke); -mode
// identity adds an identity on A each round (as admin), logs it in and
// revokes the identity (POST /v1/identities/NAME:revoke).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

var client = &http.Client{Timeout: 10 * time.Second}

func call(method, url, bearer string, body any) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		fail(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	res, err := client.Do(req)
	if err != nil {
		fail(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "revoke:", err)
	os.Exit(1)
}

func readCred(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		fail(err)
	}
	return strings.TrimSpace(string(b))
}

func login(addr, cred string) string {
	st, m := call("POST", addr+"/v1/auth/login", cred, nil)
	if st != 200 {
		fail(fmt.Errorf("login on %s: %d %v", addr, st, m))
	}
	return m["token"].(string)
}

func main() {
	a := flag.String("a", "", "node A's address")
	b := flag.String("b", "", "node B's address")
	credFile := flag.String("credential-file", "", "credential of the identity whose token is revoked (-mode token)")
	adminFile := flag.String("admin-file", "", "an admin's credential")
	mode := flag.String("mode", "token", "token or identity")
	n := flag.Int("n", 50, "rounds")
	limit := flag.Duration("limit", 10*time.Second, "give up a round after this long")
	flag.Parse()
	admin := login(*a, readCred(*adminFile))
	var ds, after []time.Duration
	for i := 0; i < *n; i++ {
		var tok, name string
		switch *mode {
		case "token":
			tok = login(*a, readCred(*credFile))
		case "identity":
			name = fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
			st, m := call("POST", *a+"/v1/identities", admin, map[string]any{"name": name, "kind": "service"})
			if st != 200 && st != 201 {
				fail(fmt.Errorf("identity add: %d %v", st, m))
			}
			tok = login(*a, m["credential"].(string))
		default:
			fail(fmt.Errorf("-mode %q: want token or identity", *mode))
		}
		if st, m := call("GET", *b+"/v1/auth/self", tok, nil); st != 200 { // B caches the token
			fail(fmt.Errorf("node B before the revoke: %d %v", st, m))
		}
		refused := make(chan time.Time, 1)
		start := make(chan struct{})
		go func() {
			<-start
			for {
				st, _ := call("GET", *b+"/v1/auth/self", tok, nil)
				if st == 401 {
					refused <- time.Now()
					return
				}
			}
		}()
		close(start)
		time.Sleep(20 * time.Millisecond) // the poller is running
		sent := time.Now()
		var st int
		var m map[string]any
		if *mode == "token" {
			st, m = call("POST", *a+"/v1/auth/revoke", tok, nil)
		} else {
			st, m = call("POST", *a+"/v1/identities/"+name+":revoke", admin, nil)
		}
		answered := time.Now()
		if st != 200 {
			fail(fmt.Errorf("revoke on A: %d %v", st, m))
		}
		select {
		case t := <-refused:
			ds = append(ds, t.Sub(sent))
			after = append(after, t.Sub(answered))
		case <-time.After(*limit):
			fail(fmt.Errorf("round %d: node B still accepts the token %v after the revoke", i, *limit))
		}
	}
	fmt.Printf("mode %s, %d rounds: from sending the revoke %s; from A's answer %s\n", *mode, len(ds), summary(ds), summary(after))
}

// summary gives p50, p99 and max (negative: B refused before A answered).
func summary(ds []time.Duration) string {
	slices.Sort(ds)
	q := func(p float64) time.Duration {
		return ds[min(len(ds)-1, int(p*float64(len(ds))))].Round(10 * time.Microsecond)
	}
	return fmt.Sprintf("p50 %v, p99 %v, max %v", q(0.50), q(0.99), ds[len(ds)-1].Round(10*time.Microsecond))
}
