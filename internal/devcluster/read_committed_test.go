package devcluster_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// kfake answers a read_committed fetch that fills the request's MaxBytes in
// the middle of a partition without that partition's aborted transactions,
// and its consumers then deliver aborted records as committed. Real brokers
// never do this: the same tests pass on Apache Kafka (their apache
// subtests). The dev cluster fits each partition's limit inside the
// request's, so a fetch never stops in the middle of a partition.

// librdkafka (kcat) with small fetch limits, as in the reproduction;
// on plaintext clusters, as kcat cannot authenticate (kafkatest.KcatArgs).
func TestReadCommittedKcatNeverSeesAbortedRecordsWhenAFetchIsFull(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat is not installed (make test installs it with scripts/ensure-tools.sh)")
	}
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		c := kafkatest.NewClusterOfKind(t, kind, "read-committed-kcat", kafkatest.ClusterOptions{})
		in := kafkatest.Interleaved{Topic: "txns", Partitions: 3, Transactions: 40, PerTxn: 5, ValueBytes: 200}
		kafkatest.CreateTopic(t, c.Bootstrap(), in.Topic, in.Partitions, nil)
		committed := kafkatest.ProduceInterleaved(t, c.Bootstrap(), in)

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "kcat", append(kafkatest.KcatArgs(t, c), "-C", "-t", in.Topic, "-e", "-q", "-f", "%s\n",
			"-X", "isolation.level=read_committed", "-X", "message.max.bytes=4096",
			"-X", "fetch.max.bytes=4096", "-X", "max.partition.fetch.bytes=2048")...).Output()
		if err != nil {
			t.Fatalf("kcat: %v", err)
		}
		checkCommittedOnly(t, strings.Split(strings.TrimSpace(string(out)), "\n"), committed*int(in.Partitions))
	})
}

// franz-go with the mirror task's fetch limits (32 MiB a request, 4 MiB a
// partition): more than eight busy partitions fill a request.
func TestReadCommittedAtTheMirrorsFetchLimitsNeverSeesAbortedRecords(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) { readCommittedAtTheMirrorsFetchLimits(t, kind) })
}

func readCommittedAtTheMirrorsFetchLimits(t *testing.T, kind string) {
	c := kafkatest.NewClusterOfKind(t, kind, "read-committed-mirror", kafkatest.ClusterOptions{Secure: true})
	in := kafkatest.Interleaved{Topic: "txns", Partitions: 12, Transactions: 10, PerTxn: 8, ValueBytes: 64 << 10}
	kafkatest.CreateTopic(t, c.Bootstrap(), in.Topic, in.Partitions, nil, c.ClientOpts()...)
	committed := kafkatest.ProduceInterleaved(t, c.Bootstrap(), in, c.ClientOpts()...)

	cl := kafkatest.ClientOf(t, c,
		kgo.ConsumeTopics(in.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(32<<20),
		kgo.FetchMaxPartitionBytes(4<<20),
	)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var values []string
	for len(values) < committed*int(in.Partitions) && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil {
				t.Fatalf("fetch %s[%d]: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			values = append(values, string(r.Value[:min(len(r.Value), 32)]))
		})
	}
	checkCommittedOnly(t, values, committed*int(in.Partitions))
}

func checkCommittedOnly(t *testing.T, values []string, want int) {
	t.Helper()
	aborted := 0
	for _, v := range values {
		if strings.HasPrefix(v, kafkatest.AbortedPrefix) {
			aborted++
		}
	}
	if aborted > 0 || len(values) != want {
		t.Fatalf("read_committed delivered %d records, %d of them from aborted transactions; want the %d committed ones only", len(values), aborted, want)
	}
}
