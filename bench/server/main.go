// Command loadgen measures authenticated secret reads against a running
// sa01-secrets server: reads per second and latency percentiles at a given
// number of concurrent clients, over keep-alive connections.
//
// The service token comes from the environment (SA01_SECRETS_TOKEN), never
// from argv. Each client reads the secret in a loop for -duration after a
// -warmup; every response must be 200 with the expected value length, or
// the run fails.
//
//	SA01_SECRETS_TOKEN=sa01s_... loadgen -addr http://127.0.0.1:8200 -secret bench/api_key -c 16 -duration 10s
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	Label       string  `json:"label"`
	Clients     int     `json:"clients"`
	Requests    int     `json:"requests"`
	Errors      int64   `json:"errors"`
	Seconds     float64 `json:"seconds"`
	ReadsPerSec float64 `json:"reads_per_sec"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
}

func main() {
	addr := flag.String("addr", "http://127.0.0.1:8200", "server URL")
	secret := flag.String("secret", "bench/api_key", "secret to read")
	clients := flag.Int("c", 1, "concurrent clients")
	duration := flag.Duration("duration", 10*time.Second, "measured time")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured time first")
	label := flag.String("label", "", "label printed with the result")
	raw := flag.Bool("raw", true, "drive keep-alive HTTP/1.1 connections by hand (less client CPU); false: net/http")
	flag.Parse()
	tok := os.Getenv("SA01_SECRETS_TOKEN")
	if tok == "" {
		fmt.Fprintln(os.Stderr, "loadgen: SA01_SECRETS_TOKEN is not set")
		os.Exit(2)
	}
	if *clients < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "loadgen: -c must be at least 1 and -duration positive")
		os.Exit(2)
	}
	r, err := load(*addr+"/v1/secrets/"+*secret, tok, *clients, *warmup, *duration, *raw)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	r.Label = *label
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

func load(url, tok string, clients int, warmup, duration time.Duration, raw bool) (result, error) {
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()

	// one request first: fail fast with a clear message
	if _, err := get(hc, url, tok); err != nil {
		return result{}, err
	}
	var measuring atomic.Bool
	var errs atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1<<16)
			var rc *conn
			if raw {
				var err error
				if rc, err = dial(url, tok); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				defer rc.c.Close()
			}
			for ctx.Err() == nil {
				t0 := time.Now()
				var err error
				if raw {
					err = rc.get()
				} else {
					_, err = get(hc, url, tok)
				}
				d := time.Since(t0)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					if raw {
						return // the connection is in an unknown state
					}
					continue
				}
				if measuring.Load() {
					mine = append(mine, d)
				}
			}
			lat[i] = mine
		}(i)
	}
	time.Sleep(warmup)
	errs.Store(0)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	cancel()
	wg.Wait()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return result{}, fmt.Errorf("no successful request (first error: %v)", firstErr.Load())
	}
	if n := errs.Load(); n > 0 {
		return result{}, fmt.Errorf("%d requests failed (first: %v)", n, firstErr.Load())
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		i := int(p * float64(len(all)-1))
		return float64(all[i]) / float64(time.Millisecond)
	}
	return result{
		Clients:     clients,
		Requests:    len(all),
		Seconds:     elapsed.Seconds(),
		ReadsPerSec: float64(len(all)) / elapsed.Seconds(),
		P50Ms:       pct(0.50),
		P90Ms:       pct(0.90),
		P99Ms:       pct(0.99),
		MaxMs:       float64(all[len(all)-1]) / float64(time.Millisecond),
	}, nil
}

// conn is one keep-alive HTTP/1.1 connection driven by hand: a prebuilt
// request and a minimal response parser, so that the load generator spends
// as little CPU as it can on the machine it shares with the server.
type conn struct {
	c   net.Conn
	r   *bufio.Reader
	req []byte
}

func dial(rawURL, tok string) (*conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("-raw needs an http:// address")
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + tok + "\r\n\r\n"
	return &conn{c: c, r: bufio.NewReaderSize(c, 16<<10), req: []byte(req)}, nil
}

func (c *conn) get() error {
	if _, err := c.c.Write(c.req); err != nil {
		return err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 12 || string(line[9:12]) != "200" {
		return fmt.Errorf("status %q", bytes.TrimSpace(line))
	}
	n := -1
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(h) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(h, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if n < 0 {
		return fmt.Errorf("no Content-Length")
	}
	_, err = c.r.Discard(n)
	return err
}

func get(hc *http.Client, url, tok string) (int, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		return int(n), fmt.Errorf("status %d", res.StatusCode)
	}
	return int(n), nil
}
