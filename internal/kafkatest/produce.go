package kafkatest

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BaseTime is the timestamp of the first generated record; records are a
// millisecond apart so that timestamps are checked record by record. It is
// recent: a cluster's retention (7 days by default) deletes older records.
var BaseTime = time.Now().Add(-time.Hour).Truncate(time.Millisecond)

// GenRecord is record i of a partition: a key, a value, two headers and a
// timestamp that all name the record.
func GenRecord(topic string, partition int32, i int) *kgo.Record {
	return &kgo.Record{
		Topic:     topic,
		Partition: partition,
		Key:       fmt.Appendf(nil, "key-%d-%d", partition, i),
		Value:     fmt.Appendf(nil, `{"topic":%q,"partition":%d,"order":%d}`, topic, partition, i),
		Headers: []kgo.RecordHeader{
			{Key: "order", Value: fmt.Appendf(nil, "%d", i)},
			{Key: "source", Value: []byte("test")},
		},
		Timestamp: BaseTime.Add(time.Duration(i) * time.Millisecond),
	}
}

// Producer writes generated records; it keeps count per partition.
type Producer struct {
	cl   *kgo.Client
	mu   sync.Mutex
	next map[string]map[int32]int
}

// NewProducer connects a producer that writes to the partition each record names.
func NewProducer(t testing.TB, bootstrap []string, opts ...kgo.Opt) *Producer {
	p := &Producer{next: map[string]map[int32]int{}}
	p.Reconnect(t, bootstrap, opts...)
	return p
}

// Reconnect replaces the client, keeping the record counts; a fresh client
// sees partitions added since the last one connected.
func (p *Producer) Reconnect(t testing.TB, bootstrap []string, opts ...kgo.Opt) {
	p.cl = Client(t, bootstrap, append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5 * time.Millisecond)}, opts...)...)
}

// Produce writes n records to each of partitions of topic and waits for them.
func (p *Producer) Produce(t testing.TB, topic string, partitions int32, n int) {
	t.Helper()
	if err := p.TryProduce(context.Background(), topic, partitions, n); err != nil {
		t.Fatal(err)
	}
}

// TryProduce is Produce for goroutines other than the test's: it answers
// the error instead of failing the test.
func (p *Producer) TryProduce(ctx context.Context, topic string, partitions int32, n int) error {
	var firstErr error
	var mu sync.Mutex
	for part := int32(0); part < partitions; part++ {
		p.mu.Lock()
		if p.next[topic] == nil {
			p.next[topic] = map[int32]int{}
		}
		start := p.next[topic][part]
		p.next[topic][part] = start + n
		p.mu.Unlock()
		for i := start; i < start+n; i++ {
			p.cl.Produce(ctx, GenRecord(topic, part, i), func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			})
		}
	}
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	if firstErr != nil {
		return fmt.Errorf("produce to %s: %w", topic, firstErr)
	}
	return nil
}

// Produced answers how many records were written to a partition.
func (p *Producer) Produced(topic string, partition int32) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int64(p.next[topic][partition])
}

// Client answers the underlying client, e.g. for transactions.
func (p *Producer) Client() *kgo.Client { return p.cl }

// Interleaved describes a topic filled with transactions that alternate
// aborted and committed, each record's value saying which it belongs to.
type Interleaved struct {
	Topic        string
	Partitions   int32
	Transactions int // per partition; even ones abort, odd ones commit
	PerTxn       int // records per transaction
	ValueBytes   int
}

// AbortedPrefix starts the value of every record of an aborted transaction.
const AbortedPrefix = "aborted-"

// ProduceInterleaved writes the transactions of in, one transactional
// producer per partition, and answers how many committed records each
// partition holds.
func ProduceInterleaved(t testing.TB, bootstrap []string, in Interleaved, opts ...kgo.Opt) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pad := make([]byte, in.ValueBytes)
	committed := 0
	for part := range in.Partitions {
		cl := Client(t, bootstrap, append([]kgo.Opt{
			kgo.TransactionalID(fmt.Sprintf("interleaved-%s-%d", in.Topic, part)),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchCompression(kgo.NoCompression()),
		}, opts...)...)
		for txn := range in.Transactions {
			abort := txn%2 == 0
			prefix := "committed-"
			if abort {
				prefix = AbortedPrefix
			} else if part == 0 {
				committed += in.PerTxn
			}
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			var failed error
			var mu sync.Mutex
			for i := range in.PerTxn {
				v := append(fmt.Appendf(nil, "%s%d-%d-", prefix, txn, i), pad...)
				cl.Produce(ctx, &kgo.Record{Topic: in.Topic, Partition: part, Value: v}, func(_ *kgo.Record, err error) {
					mu.Lock()
					defer mu.Unlock()
					failed = cmp.Or(failed, err)
				})
			}
			if err := cmp.Or(cl.Flush(ctx), failed); err != nil {
				t.Fatalf("produce to %s[%d]: %v", in.Topic, part, err)
			}
			end := kgo.TryCommit
			if abort {
				end = kgo.TryAbort
			}
			if err := cl.EndTransaction(ctx, end); err != nil {
				t.Fatalf("end transaction on %s[%d]: %v", in.Topic, part, err)
			}
		}
		cl.Close()
	}
	return committed
}
