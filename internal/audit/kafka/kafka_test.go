package kafka

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

const topic = "sa01.audit"

func record(t *testing.T, m *audit.Memory, p *Publisher, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		ev := audit.Event{Action: "read", Secret: "db/pass", Version: i, Outcome: audit.Success, Service: "svc"}
		if err := m.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	p.Notify()
}

// consumeAll reads partition 0 from the start until it holds want records.
func consumeAll(t *testing.T, addrs []string, want int) []int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var seqs []int64
	for len(seqs) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records, want %d", len(seqs), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == SeqHeader {
					s, _ := strconv.ParseInt(string(h.Value), 10, 64)
					seqs = append(seqs, s)
				}
			}
		})
	}
	// Anything more would be a duplicate: poll once more briefly.
	short, c2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer c2()
	cl.PollFetches(short).EachRecord(func(r *kgo.Record) { seqs = append(seqs, -1) })
	return seqs
}

func assertOnceInOrder(t *testing.T, seqs []int64, n int) {
	t.Helper()
	if len(seqs) != n {
		t.Fatalf("got %d records, want %d", len(seqs), n)
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("record %d has seq %d, want %d", i, s, i+1)
		}
	}
}

func waitShipped(t *testing.T, p *Publisher, seq int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for p.Shipped() < seq {
		if time.Now().After(deadline) {
			t.Fatalf("shipped %d, want %d", p.Shipped(), seq)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPublisherShipsInOrderAcrossBrokerOutage(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var down atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if down.Load() {
			return nil, errors.New("broker down"), true
		}
		return nil, nil, false
	})
	m := &audit.Memory{}
	p := New(m, c.ListenAddrs(), topic, Options{Poll: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	record(t, m, p, 0, 100)
	waitShipped(t, p, 100)

	down.Store(true)
	// Events keep being recorded while the broker is down: the outbox
	// takes them and nothing waits on Kafka.
	record(t, m, p, 100, 250)
	time.Sleep(300 * time.Millisecond)
	if p.Shipped() >= 350 {
		t.Fatal("events shipped while the broker was down")
	}
	down.Store(false)
	waitShipped(t, p, 350)
	if cur, _ := m.AuditCursor(context.Background(), CursorName(topic)); cur != 350 {
		t.Fatalf("cursor %d", cur)
	}
	assertOnceInOrder(t, consumeAll(t, c.ListenAddrs(), 350), 350)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestPublisherSurvivesBrokerRestart(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	start := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(1, topic))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := start()
	addrs := c.ListenAddrs()
	m := &audit.Memory{}
	p := New(m, addrs, topic, Options{Poll: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	record(t, m, p, 0, 50)
	waitShipped(t, p, 50)
	c.Close()
	record(t, m, p, 50, 150) // broker gone: recorded, not shipped
	time.Sleep(300 * time.Millisecond)
	c = start()
	defer c.Close()
	waitShipped(t, p, 200)
	assertOnceInOrder(t, consumeAll(t, addrs, 200), 200)
}

func TestPublisherDoesNotResendWhatKafkaHolds(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := &audit.Memory{}
	p := New(m, c.ListenAddrs(), topic, Options{Poll: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	record(t, m, p, 0, 30)
	waitShipped(t, p, 30)
	cancel()
	<-done
	// The acknowledgement was lost: the cursor is behind what Kafka holds.
	m.SetAuditCursor(context.Background(), CursorName(topic), 10)
	record(t, m, p, 30, 5)
	p2 := New(m, c.ListenAddrs(), topic, Options{Poll: 20 * time.Millisecond})
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { p2.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitShipped(t, p2, 35)
	assertOnceInOrder(t, consumeAll(t, c.ListenAddrs(), 35), 35)
}

// TestTwoPublishersShipOnce: two publishers of one outbox (serve on two
// nodes of one store) ship every event once, in order: one ships, the other
// stands by, and takes over when the first stops.
func TestTwoPublishersShipOnce(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := &audit.Memory{}
	o := Options{Poll: 5 * time.Millisecond, Batch: 7, Standby: 20 * time.Millisecond}
	ps := [2]*Publisher{New(m, c.ListenAddrs(), topic, o), New(m, c.ListenAddrs(), topic, o)}
	var cancels [2]context.CancelFunc
	var dones [2]chan struct{}
	for i, p := range ps {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i], dones[i] = cancel, make(chan struct{})
		go func() { p.Run(ctx); close(dones[i]) }()
	}
	defer func() {
		for i := range ps {
			cancels[i]()
			<-dones[i]
		}
	}()
	for i := range 40 {
		record(t, m, ps[i%2], i*10, 10)
		time.Sleep(time.Millisecond)
	}
	deadline := time.Now().Add(60 * time.Second)
	for max(ps[0].Shipped(), ps[1].Shipped()) < 400 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// Exactly one of them ships; stop it, and the other takes over.
	active := 0
	if ps[1].Shipped() > 0 {
		active = 1
	}
	if ps[1-active].Shipped() != 0 || !ps[1-active].StandingBy() {
		t.Fatalf("both shipped: %d and %d", ps[0].Shipped(), ps[1].Shipped())
	}
	cancels[active]()
	<-dones[active]
	record(t, m, ps[1-active], 400, 50)
	waitShipped(t, ps[1-active], 450)
	assertOnceInOrder(t, consumeAll(t, c.ListenAddrs(), 450), 450)
}
