package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/somaagent01/sa01-secrets/internal/audit/kafka"
)

// TestServeShipsAuditToKafkaOnce: with Kafka configured, serve ships every
// event of its chain to the topic exactly once, in order.
func TestServeShipsAuditToKafkaOnce(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "sa01.audit"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	env := map[string]string{"HOME": t.TempDir(), "SA01_SECRETS_AUDIT_KAFKA": strings.Join(c.ListenAddrs(), ",")}
	s := startServe(t, env, serveOptions{Dev: true, Listen: "127.0.0.1:0"})
	admin := regexp.MustCompile(`export SA01_SECRETS_CREDENTIAL_FILE=(\S+)`).FindStringSubmatch(s.stdout.String())[1]
	cli := map[string]string{"SA01_SECRETS_ADDR": s.addr, "SA01_SECRETS_CREDENTIAL_FILE": admin, "HOME": t.TempDir()}
	for i, args := range [][]string{{"put", "demo/a"}, {"get", "demo/a"}, {"get", "demo/a"}, {"get", "demo/missing"}} {
		var o, e bytes.Buffer
		run(context.Background(), args, strings.NewReader("value-"+string(rune('0'+i))), &o, &e, func(k string) string { return cli[k] })
	}
	// Read the topic until it is quiet for two seconds.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"sa01.audit": {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var seqs []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			n++
			for _, h := range r.Headers {
				if h.Key == kafka.SeqHeader {
					seqs = append(seqs, string(h.Value))
				}
			}
		})
		if n == 0 && len(seqs) > 0 {
			break
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if len(seqs) < 4 {
		t.Fatalf("kafka holds %d events, want at least 4", len(seqs))
	}
	for i, q := range seqs {
		if n, err := strconv.Atoi(q); err != nil || n != i+1 {
			t.Fatalf("record %d carries event %q, want %d: each event once, in order (%v)", i, q, i+1, seqs)
		}
	}
}
