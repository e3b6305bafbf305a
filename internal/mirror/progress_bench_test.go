package mirror

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// BenchmarkTaskRestartReadsSyncHistory measures what an offset-sync history
// that nothing trimmed costs a task restart: the history an agent before
// snapshots left, or one a sync topic kept compacted keeps growing (the
// agent's principal may not alter its configs). A task that (re)starts reads
// its sync partition from its log start to learn where each source partition
// resumes; a failover's final syncs and the translator's start read the same
// history. Tasks now snapshot their partition and delete what the snapshot
// restates, so a running mirror's history stays bounded
// (BenchmarkOffsetSyncHistoryAge); this benchmark writes syncs directly,
// with no snapshot, and times the restart's read for histories of growing
// size, side by side in one run, on a dev cluster in its own process; the
// progress it finds is checked.
func BenchmarkTaskRestartReadsSyncHistory(b *testing.B) {
	bin := kafkatest.BuildAgent(b, "../../agent")
	bootstrap := kafkatest.StartDevClusterProcess(b, bin, "sync-history").Bootstrap
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl := kafkatest.Client(b, bootstrap, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5*time.Millisecond))
	adm := kadm.NewClient(cl)

	sizes := []int{0, 100_000, 1_000_000}
	took := make([]time.Duration, len(sizes))
	for iter := range b.N {
		for i, n := range sizes {
			name := fmt.Sprintf("history-%d-%d", iter, n)
			if err := EnsureTopicPartitions(ctx, adm, offsetsync.Topic(name), 1, true); err != nil {
				b.Fatal(err)
			}
			// One source partition copied n times, one record per
			// transaction: what n transactions of a task leave behind.
			for j := range n {
				s := offsetsync.Sync{Topic: "orders", Partition: 0, TargetTopic: "orders",
					Runs: []offsetsync.Run{{Source: int64(j), Target: 2 * int64(j), Count: 1}}, SourceNext: int64(j) + 1}
				v, err := s.Encode()
				if err != nil {
					b.Fatal(err)
				}
				cl.Produce(ctx, &kgo.Record{Topic: offsetsync.Topic(name), Partition: 0, Key: s.Key(), Value: v}, func(_ *kgo.Record, err error) {
					if err != nil {
						b.Errorf("write sync: %v", err)
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}

			t := &task{id: 0, m: agentapi.Mirror{Name: name, TasksMax: 1}, dstOpts: []kgo.Opt{kgo.SeedBrokers(bootstrap...)}}
			producer := kafkatest.Client(b, bootstrap, kgo.TransactionalID(TransactionalID(name, 1, 0)))
			if _, _, err := producer.ProducerID(ctx); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			err := t.announce(ctx, producer)
			var progress map[tp]int64
			if err == nil {
				progress, _, _, err = t.readProgress(ctx)
			}
			took[i] = time.Since(start)
			producer.Close()
			if err != nil {
				b.Fatalf("read progress over %d syncs: %v", n, err)
			}
			want := map[tp]int64{}
			if n > 0 {
				want[tp{"orders", 0}] = int64(n)
			}
			if len(progress) != len(want) || progress[tp{"orders", 0}] != want[tp{"orders", 0}] {
				b.Fatalf("read progress over %d syncs: %v, want %v", n, progress, want)
			}
		}
	}
	b.ReportMetric(0, "ns/op")
	for i, n := range sizes {
		b.ReportMetric(float64(took[i].Milliseconds()), fmt.Sprintf("restart-read-ms-%d-syncs", n))
	}
	per := float64(took[len(sizes)-1]-took[0]) / float64(sizes[len(sizes)-1]) * 1e6 / float64(time.Millisecond)
	fmt.Printf("task restart, offset-sync history nothing trimmed (no snapshots): reading %d, %d and %d syncs took %d, %d and %d ms; about %.0f ms per million syncs on top of an empty history\n",
		sizes[0], sizes[1], sizes[2], took[0].Milliseconds(), took[1].Milliseconds(), took[2].Milliseconds(), per)
}
