// Package kafka ships the audit chain to a Kafka topic with franz-go.
//
// The store's audit table is the outbox: a [Publisher] reads entries after
// its cursor, produces them in seq order to partition 0 of the topic with an
// idempotent producer, and then moves its cursor. Reads never wait on Kafka:
// while the broker is down the publisher only falls behind, and it catches
// up from its cursor when the broker returns. Before it produces, a
// publisher reads the last record of the partition, so entries that reached
// Kafka before a crash (or before an error that lost the acknowledgement)
// are not sent twice.
package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

// SeqHeader is the record header that carries an entry's seq.
const SeqHeader = "sa01-audit-seq"

// Options tune a Publisher; zero values pick the defaults.
type Options struct {
	Batch      int           // entries per produce, default 500
	Poll       time.Duration // how often to look for new entries without a notification, default 1 s
	MaxBackoff time.Duration // longest wait between sessions after an error, default 30 s
	Standby    time.Duration // how often a publisher whose cursor another one ships tries to take over, default 5 s
	Logger     *slog.Logger  // default: discard
	ClientOpts []kgo.Opt     // extra franz-go options (tests)
}

// Publisher ships the chain to one topic. Make one with New and run it with
// Run in its own goroutine.
type Publisher struct {
	out     audit.Outbox
	seeds   []string
	topic   string
	o       Options
	notify  chan struct{}
	shipped atomic.Int64
	standby atomic.Bool // waiting for the lock another publisher holds
}

var _ audit.Notifier = (*Publisher)(nil)

// New returns a publisher from out to topic on the brokers seeds.
func New(out audit.Outbox, seeds []string, topic string, o Options) *Publisher {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Standby <= 0 {
		o.Standby = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{out: out, seeds: seeds, topic: topic, o: o, notify: make(chan struct{}, 1)}
}

// CursorName is the outbox cursor of the publisher to topic.
func CursorName(topic string) string { return "kafka:" + topic }

// Notify tells the publisher that new entries were committed.
func (p *Publisher) Notify() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// Shipped returns the seq of the last entry the publisher knows is in Kafka.
func (p *Publisher) Shipped() int64 { return p.shipped.Load() }

// StandingBy reports whether the publisher is waiting while another one
// ships its cursor.
func (p *Publisher) StandingBy() bool { return p.standby.Load() }

// Run ships entries until ctx ends. Errors (broker down, store down) are
// logged and retried with backoff; Run returns only ctx's error.
//
// Only the publisher holding the cursor's lock (audit.Outbox's
// LockPublisher) ships: the others (serve on the other
// nodes, or "audit publish" beside a server) stand by, and one of them
// takes over within Options.Standby once the holder stops.
func (p *Publisher) Run(ctx context.Context) error {
	backoff := 250 * time.Millisecond
	for {
		unlock, err := p.lock(ctx)
		if err == nil {
			err = p.session(ctx)
			if uerr := unlock(); uerr != nil && ctx.Err() == nil {
				p.o.Logger.Warn("audit: kafka publisher: releasing its lock failed", "topic", p.topic, "err", uerr)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.o.Logger.Warn("audit: kafka publisher interrupted; will resume from its cursor", "topic", p.topic, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.o.MaxBackoff)
	}
}

// Start runs p in the background until ctx ends or stop is called, and
// returns stop, which waits for Run to return. rec, when it is an
// *audit.StoreRecorder, wakes p after each commit of its chain.
func (p *Publisher) Start(ctx context.Context, rec audit.Recorder) (stop func()) {
	if r, ok := rec.(*audit.StoreRecorder); ok {
		r.AddNotifier(p)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

// lock waits until this publisher holds its cursor's lock, or ctx ends.
func (p *Publisher) lock(ctx context.Context) (func() error, error) {
	told := false
	for {
		unlock, held, err := p.out.LockPublisher(ctx, CursorName(p.topic))
		if err != nil {
			return nil, fmt.Errorf("taking the publisher lock: %w", err)
		}
		if held {
			p.standby.Store(false)
			if told {
				p.o.Logger.Info("audit: kafka publisher taking over", "topic", p.topic)
			}
			return unlock, nil
		}
		p.standby.Store(true)
		if !told {
			p.o.Logger.Info("audit: another process ships the audit chain to kafka; standing by", "topic", p.topic)
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(p.o.Standby):
		}
	}
}

func (p *Publisher) client() (*kgo.Client, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(p.seeds...),
		kgo.DefaultProduceTopic(p.topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.AllowAutoTopicCreation(),
		kgo.RecordDeliveryTimeout(30 * time.Second),
	}
	return kgo.NewClient(append(opts, p.o.ClientOpts...)...)
}

// session connects, finds where to resume and ships until an error.
func (p *Publisher) session(ctx context.Context) error {
	cl, err := p.client()
	if err != nil {
		return err
	}
	defer cl.Close()
	name := CursorName(p.topic)
	cursor, err := p.out.AuditCursor(ctx, name)
	if err != nil {
		return fmt.Errorf("reading cursor: %w", err)
	}
	if last, err := p.lastInTopic(ctx, cl); err != nil {
		return fmt.Errorf("reading the topic's last record: %w", err)
	} else if last.seq > cursor {
		ok, err := p.sameChain(ctx, last)
		if err != nil {
			return err
		}
		if ok {
			p.o.Logger.Info("audit: kafka already holds entries past the cursor; skipping them", "topic", p.topic, "cursor", cursor, "last", last.seq)
			cursor = last.seq
			if err := p.out.SetAuditCursor(ctx, name, cursor); err != nil {
				return fmt.Errorf("moving cursor: %w", err)
			}
		} else {
			p.o.Logger.Warn("audit: the topic's last record is not from this chain; publishing from the cursor", "topic", p.topic, "cursor", cursor)
		}
	}
	p.shipped.Store(cursor)
	tick := time.NewTicker(p.o.Poll)
	defer tick.Stop()
	for {
		es, err := p.out.AuditAfter(ctx, cursor, p.o.Batch)
		if err != nil {
			return fmt.Errorf("reading outbox: %w", err)
		}
		if len(es) == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-p.notify:
			case <-tick.C:
			}
			continue
		}
		recs := make([]*kgo.Record, len(es))
		for i, e := range es {
			if recs[i], err = entryRecord(e); err != nil {
				return err
			}
		}
		res := cl.ProduceSync(ctx, recs...)
		// Records of one partition succeed as a prefix: advance over it.
		n := 0
		for _, r := range res {
			if r.Err != nil {
				break
			}
			n++
		}
		if n > 0 {
			cursor = es[n-1].Seq
			if err := p.out.SetAuditCursor(ctx, name, cursor); err != nil {
				return fmt.Errorf("moving cursor: %w", err)
			}
			p.shipped.Store(cursor)
		}
		if err := res.FirstErr(); err != nil {
			return fmt.Errorf("producing: %w", err)
		}
	}
}

type published struct {
	seq  int64
	hash string
}

// lastInTopic returns the seq and hash of the last record of partition 0,
// or zero when the topic is empty or does not exist.
func (p *Publisher) lastInTopic(ctx context.Context, cl *kgo.Client) (published, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = p.topic
	pt := kmsg.NewListOffsetsRequestTopicPartition()
	pt.Partition = 0
	pt.Timestamp = -1 // the end
	t.Partitions = append(t.Partitions, pt)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return published{}, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return published{}, errors.New("unexpected ListOffsets response")
	}
	rp := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return published{}, nil
		}
		return published{}, err
	}
	if rp.Offset <= 0 {
		return published{}, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rd, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{p.topic: {0: kgo.NewOffset().At(rp.Offset - 1)}})}, p.o.ClientOpts...)...)
	if err != nil {
		return published{}, err
	}
	defer rd.Close()
	for {
		fs := rd.PollFetches(cctx)
		if err := cctx.Err(); err != nil {
			return published{}, err
		}
		var last *kgo.Record
		fs.EachRecord(func(r *kgo.Record) { last = r })
		if last != nil {
			return readPublished(last)
		}
	}
}

// entryRecord is the record of an audit entry: the entry's JSON line
// without its newline, its seq in the SeqHeader header.
func entryRecord(e audit.Entry) (*kgo.Record, error) {
	v, err := audit.MarshalLine(e)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Value: v[:len(v)-1], Partition: 0,
		Headers: []kgo.RecordHeader{{Key: SeqHeader, Value: []byte(strconv.FormatInt(e.Seq, 10))}}}, nil
}

// readPublished reads the seq (from its first SeqHeader header) and the
// hash of a record of the topic. Anyone who can produce to the topic
// writes it: a hash that is not an entry's is "", which no entry of the
// outbox has.
func readPublished(r *kgo.Record) (published, error) {
	for _, h := range r.Headers {
		if h.Key == SeqHeader {
			seq, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil {
				return published{}, errors.New("the last record has a malformed seq header")
			}
			var e audit.Entry
			_ = json.Unmarshal(r.Value, &e)
			return published{seq: seq, hash: e.Hash}, nil
		}
	}
	return published{}, errors.New("the last record carries no seq header")
}

// sameChain reports whether the entry at last.seq in the outbox has the hash
// the topic holds for it.
func (p *Publisher) sameChain(ctx context.Context, last published) (bool, error) {
	es, err := p.out.AuditAfter(ctx, last.seq-1, 1)
	if err != nil {
		return false, fmt.Errorf("reading outbox: %w", err)
	}
	return len(es) == 1 && es[0].Seq == last.seq && es[0].Hash == last.hash, nil
}
