//go:build unix

package fernet

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"sync"
	"syscall"
	"testing"
	"time"

	fernetgo "github.com/fernet/fernet-go"
)

// The benchmarks compare, in one run, implementations of the same
// work (encrypt: random IV, timestamp, PKCS#7, AES-128-CBC, HMAC-SHA256,
// URL-safe base64; decrypt: the reverse with the MAC checked first):
//
//	impl=ours     this package: Encrypt and Decrypt, one allocation (the result)
//	impl=oursappend this package: AppendEncrypt and AppendDecrypt into a
//	              reused buffer, no allocation
//	impl=fernetgo github.com/fernet/fernet-go
//	impl=bound    the stdlib primitives into preallocated buffers with a
//	              reused HMAC and reused CBC modes: no allocation and no
//	              concurrency safety, the floor for a stdlib implementation
//	impl=boundalloc the bound returning a fresh result of the size ours
//	              returns (the token, or the plaintext)
//
// boundalloc is the floor for any implementation on the standard library
// that returns a fresh result; fernet-go / boundalloc is the most any such
// implementation can gain over fernet-go on the machine measured.
//
// Besides ns/op (wall clock) each reports cpu-ns/op: the process's CPU time
// (user + system, GC included) per operation. On a machine shared with other
// builds, wall time includes waiting for a CPU; CPU time does not.
//
// bench/fernet/run.sh runs them and prints the ratios.

var benchSizes = []struct {
	name string
	n    int
}{{"32B", 32}, {"1KiB", 1024}, {"64KiB", 64 << 10}}

// warmUp runs once per process, before the first benchmark: it allocates
// for a while, so that the heap has grown to its steady size and its pages
// are mapped. Without it the first implementation measured in a process
// (ours, encrypting 32 bytes) paid for growing the heap from nothing, the
// page faults on fresh memory included: 1.6x its own time when measured
// again in the same process.
var warmUp = sync.OnceFunc(func() {
	k := GenerateKey()
	msg := make([]byte, 1024)
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		if _, err := k.Decrypt(k.Encrypt(msg)); err != nil {
			panic(err)
		}
	}
})

func BenchmarkEncrypt(b *testing.B) {
	warmUp()
	for _, sz := range benchSizes {
		msg := make([]byte, sz.n)
		rand.Read(msg)
		k := GenerateKey()
		gk, _ := fernetgo.DecodeKey(k.Encode())
		bd := newBound(k, sz.n)
		b.Run("impl=ours/size="+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				k.Encrypt(msg)
			}
		})
		b.Run("impl=oursappend/size="+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			buf := make([]byte, 0, EncodedLen(sz.n))
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				k.AppendEncrypt(buf[:0], msg)
			}
		})
		b.Run("impl=fernetgo/size="+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				if _, err := fernetgo.EncryptAndSign(msg, gk); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("impl=bound/size="+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				bd.encrypt(msg)
			}
		})
		b.Run("impl=boundalloc/size="+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				bd.encryptTo(make([]byte, EncodedLen(len(msg))), msg)
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	warmUp()
	for _, sz := range benchSizes {
		msg := make([]byte, sz.n)
		rand.Read(msg)
		k := GenerateKey()
		gk, _ := fernetgo.DecodeKey(k.Encode())
		gks := []*fernetgo.Key{gk}
		tok := k.Encrypt(msg)
		bd := newBound(k, sz.n)
		for _, open := range []func([]byte) ([]byte, error){bd.decrypt, bd.decryptFresh} {
			if got, err := open(tok); err != nil || string(got) != string(msg) {
				b.Fatal("bound does not decrypt")
			}
		}
		b.Run("impl=ours/size="+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				if _, err := k.Decrypt(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("impl=oursappend/size="+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			buf := make([]byte, 0, len(tok))
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				if _, err := k.AppendDecrypt(buf[:0], tok, NoTTL, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("impl=fernetgo/size="+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				if fernetgo.VerifyAndDecrypt(tok, 0, gks) == nil {
					b.Fatal("fernet-go refused the token")
				}
			}
		})
		b.Run("impl=bound/size="+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				if _, err := bd.decrypt(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("impl=boundalloc/size="+sz.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(sz.n))
			defer reportCPU(b, cpuTime())
			for b.Loop() {
				if _, err := bd.decryptFresh(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// bound is the raw lower bound: crypto/aes CBC, crypto/hmac and
// encoding/base64 doing Fernet's work into preallocated buffers.
type bound struct {
	blk      cipher.Block
	enc, dec cipher.BlockMode
	mac      hash.Hash
	raw, out []byte
	pt       []byte
	sum      [sha256.Size]byte
	last     [aes.BlockSize]byte
}

func newBound(k *Key, maxMsg int) *bound {
	blk, _ := aes.NewCipher(k.s.enc[:])
	iv := make([]byte, aes.BlockSize)
	bd := &bound{
		blk: blk,
		enc: cipher.NewCBCEncrypter(blk, iv),
		dec: cipher.NewCBCDecrypter(blk, iv),
		mac: hmac.New(sha256.New, k.s.sign[:]),
	}
	bd.mac.Reset()
	n := headerSize + (maxMsg/aes.BlockSize+1)*aes.BlockSize + hmacSize
	bd.raw = make([]byte, n)
	bd.out = make([]byte, base64.URLEncoding.EncodedLen(n))
	bd.pt = make([]byte, n)
	return bd
}

func (bd *bound) encrypt(msg []byte) []byte { return bd.encryptTo(bd.out, msg) }

// encryptTo is encrypt into out, which holds the token.
func (bd *bound) encryptTo(out, msg []byte) []byte {
	n := headerSize + (len(msg)/aes.BlockSize+1)*aes.BlockSize + hmacSize
	raw := bd.raw[:n]
	raw[0] = Version
	binary.BigEndian.PutUint64(raw[1:9], uint64(time.Now().Unix()))
	iv := raw[9:headerSize]
	_, _ = rand.Read(iv)
	body := raw[headerSize : n-hmacSize]
	copy(body, msg)
	for i := len(msg); i < len(body); i++ {
		body[i] = byte(len(body) - len(msg))
	}
	bd.enc.(ivSetter).SetIV(iv)
	bd.enc.CryptBlocks(body, body)
	bd.mac.Reset()
	bd.mac.Write(raw[:n-hmacSize])
	bd.mac.Sum(raw[:n-hmacSize])
	out = out[:base64.URLEncoding.EncodedLen(n)]
	base64.URLEncoding.Encode(out, raw)
	return out
}

func (bd *bound) decrypt(tok []byte) ([]byte, error) { return bd.open(tok, false) }

// decryptFresh is decrypt into a new slice of the plaintext's length.
func (bd *bound) decryptFresh(tok []byte) ([]byte, error) { return bd.open(tok, true) }

func (bd *bound) open(tok []byte, fresh bool) ([]byte, error) {
	n, err := base64.URLEncoding.Decode(bd.raw[:cap(bd.raw)], tok)
	if err != nil || n < minTokenSize || bd.raw[0] != Version || (n-headerSize-hmacSize)%aes.BlockSize != 0 {
		return nil, ErrInvalidToken
	}
	raw := bd.raw[:n]
	bd.mac.Reset()
	bd.mac.Write(raw[:n-hmacSize])
	if !hmac.Equal(bd.mac.Sum(bd.sum[:0]), raw[n-hmacSize:]) {
		return nil, ErrInvalidToken
	}
	body := raw[headerSize : n-hmacSize]
	if fresh {
		return bd.openFresh(raw[9:headerSize], body)
	}
	pt := bd.pt[:len(body)]
	bd.dec.(ivSetter).SetIV(raw[9:headerSize])
	bd.dec.CryptBlocks(pt, body)
	p := int(pt[len(pt)-1])
	if p == 0 || p > aes.BlockSize {
		return nil, ErrInvalidToken
	}
	for _, c := range pt[len(pt)-p:] {
		if int(c) != p {
			return nil, ErrInvalidToken
		}
	}
	return pt[:len(pt)-p], nil
}

// openFresh decrypts body into a new slice of the plaintext's length: the
// last block first, whose padding gives the length, then the rest straight
// into the result.
func (bd *bound) openFresh(iv, body []byte) ([]byte, error) {
	last := &bd.last // a local would escape through cipher.Block
	k := len(body) - aes.BlockSize
	prev := iv
	if k > 0 {
		prev = body[k-aes.BlockSize : k]
	}
	bd.blk.Decrypt(last[:], body[k:])
	subtle.XORBytes(last[:], last[:], prev)
	p := int(last[aes.BlockSize-1])
	if p == 0 || p > aes.BlockSize {
		return nil, ErrInvalidToken
	}
	for _, c := range last[aes.BlockSize-p:] {
		if int(c) != p {
			return nil, ErrInvalidToken
		}
	}
	pt := make([]byte, len(body)-p)
	if k > 0 {
		bd.dec.(ivSetter).SetIV(iv)
		bd.dec.CryptBlocks(pt[:k], body[:k])
	}
	copy(pt[k:], last[:])
	return pt, nil
}

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}
