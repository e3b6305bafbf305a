package mirror

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/checkpoint"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// snapshotEnv is a task copying LH.ORDERS[0] between two clusters of one
// kind, with a sync topic the test creates.
type snapshotEnv struct {
	src, dst         kafkatest.Kafka
	srcOpts, dstOpts []kgo.Opt
	m                agentapi.Mirror
	prod             *kafkatest.Producer
	copied           int
}

func newSnapshotEnv(t *testing.T, kind string) *snapshotEnv {
	t.Helper()
	e := &snapshotEnv{
		src: kafkatest.NewClusterOfKind(t, kind, "north-america", kafkatest.ClusterOptions{}),
		dst: kafkatest.NewClusterOfKind(t, kind, "europe", kafkatest.ClusterOptions{}),
		m:   agentapi.Mirror{Name: "na-to-eu", Source: "north-america", Target: "europe", StartFrom: agentapi.StartEarliest, TasksMax: 1},
	}
	e.srcOpts = append(e.src.ClientOpts(), kgo.SeedBrokers(e.src.Bootstrap()...))
	e.dstOpts = append(e.dst.ClientOpts(), kgo.SeedBrokers(e.dst.Bootstrap()...))
	kafkatest.CreateTopic(t, e.src.Bootstrap(), "LH.ORDERS", 1, nil, e.src.ClientOpts()...)
	kafkatest.CreateTopic(t, e.dst.Bootstrap(), "LH.ORDERS", 1, nil, e.dst.ClientOpts()...)
	e.prod = kafkatest.NewProducer(t, e.src.Bootstrap(), e.src.ClientOpts()...)
	return e
}

func (e *snapshotEnv) task(floor int) *task {
	tk := &task{
		id: 0, m: e.m, srcOpts: e.srcOpts, dstOpts: e.dstOpts,
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		stats:   newTaskStats(0, "agent"),
		metrics: NewMetrics(prometheus.NewRegistry()),
		partsCh: make(chan []SourcePartition, 1), restartIn: 100 * time.Millisecond,
		hooks: Hooks{SnapshotFloor: floor},
	}
	tk.setPartitions([]SourcePartition{{Topic: "LH.ORDERS", Partition: 0, TargetTopic: "LH.ORDERS"}})
	return tk
}

// bursts produces n bursts of 5 records, each copied before the next, so
// that each is a transaction and an offset sync of its own.
func (e *snapshotEnv) bursts(t *testing.T, n int) {
	t.Helper()
	for range n {
		e.prod.Produce(t, "LH.ORDERS", 1, 5)
		e.copied += 5
		kafkatest.Eventually(t, 30*time.Second, fmt.Sprintf("%d records on europe", e.copied), func() (bool, string) {
			got := len(kafkatest.ReadAll(t, e.dst.Bootstrap(), "LH.ORDERS", e.dst.ClientOpts()...)[0])
			return got >= e.copied, fmt.Sprint(got, " records on europe")
		})
	}
}

// syncLogStart answers the log start of the sync topic's partition 0.
func (e *snapshotEnv) syncLogStart(t *testing.T) int64 {
	t.Helper()
	starts, err := kadm.NewClient(kafkatest.ClientOf(t, e.dst)).ListStartOffsets(context.Background(), offsetsync.Topic(e.m.Name))
	if err != nil {
		t.Fatal(err)
	}
	o, _ := starts.Lookup(offsetsync.Topic(e.m.Name), 0)
	if o.Err != nil {
		t.Fatal(o.Err)
	}
	return o.Offset
}

// checkCopied checks that europe holds every record produced once, in
// order, and answers the source's records still there with their copies.
func (e *snapshotEnv) checkCopied(t *testing.T) (src, copies []kafkatest.Record) {
	t.Helper()
	src = kafkatest.ReadAll(t, e.src.Bootstrap(), "LH.ORDERS", e.src.ClientOpts()...)[0]
	dst := kafkatest.ReadAll(t, e.dst.Bootstrap(), "LH.ORDERS", e.dst.ClientOpts()...)[0]
	if len(dst) != e.copied {
		t.Fatalf("%d records on europe, want %d", len(dst), e.copied)
	}
	copies = dst[len(dst)-len(src):]
	for i := range src {
		if !src[i].Equal(copies[i]) {
			t.Fatalf("record at source offset %d differs from its copy at %d", src[i].Offset, copies[i].Offset)
		}
	}
	return src, copies
}

// checkExact checks the copy, and that the mirror's final syncs, a
// translator and a task's progress translate every source offset still in
// the source's log to the target offset of its copy. The task must be
// stopped: FinalSyncs fences it.
func (e *snapshotEnv) checkExact(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, dst := e.checkCopied(t)
	end := src[len(src)-1].Offset + 1
	translator, err := checkpoint.StartTranslator(ctx, e.dstOpts, e.m.Name)
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Eventually(t, 30*time.Second, "the translator read the syncs", func() (bool, string) {
		n := translator.Log("LH.ORDERS", 0).SourceNext()
		return n == end, fmt.Sprint("source next ", n)
	})
	idx, err := FinalSyncs(ctx, e.dstOpts, e.m)
	if err != nil {
		t.Fatal(err)
	}
	for name, l := range map[string]*offsetsync.Log{"final syncs": idx.Log("LH.ORDERS", 0), "translator": translator.Log("LH.ORDERS", 0)} {
		if l.SourceNext() != end {
			t.Fatalf("%s: source next %d, want %d", name, l.SourceNext(), end)
		}
		for i, r := range src {
			if got, ok := l.Translate(r.Offset); !ok || got != dst[i].Offset {
				t.Fatalf("%s: Translate(%d) = %d, %v; its copy is at %d", name, r.Offset, got, ok, dst[i].Offset)
			}
		}
		if cp := l.TranslateCommitted(end); !cp.Exact || cp.Target != dst[len(dst)-1].Offset+1 {
			t.Fatalf("%s: TranslateCommitted(%d) = %+v, want exact %d", name, end, cp, dst[len(dst)-1].Offset+1)
		}
	}
	progress, _, _, err := e.task(0).readProgress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := progress[tp{"LH.ORDERS", 0}]; got != end {
		t.Fatalf("a task resumes at %d, want %d", got, end)
	}
}

// A task that writes many offset syncs snapshots its sync partition and
// deletes what each snapshot restates: the sync topic's log start advances,
// runs below the source's log start are dropped, and the target, the
// final syncs, a translator and a restarted task's progress stay exact.
func TestATaskSnapshotsItsOffsetSyncsAndDeletesWhatTheSnapshotRestates(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		e := newSnapshotEnv(t, kind)
		ctx := context.Background()
		if err := ensureSyncTopic(ctx, kadm.NewClient(kafkatest.ClientOf(t, e.dst)), e.m.Name, 1, Hooks{}, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
		stop := runTask(t, e.task(3))
		e.bursts(t, 12)
		if start := e.syncLogStart(t); start == 0 {
			t.Fatal("12 transactions with a snapshot floor of 3 left the sync topic's log start at 0")
		}
		e.checkCopied(t)
		// The source's retention removes the first 30 records: the
		// runs that map them are not needed any more.
		srcAdm := kadm.NewClient(kafkatest.ClientOf(t, e.src))
		if _, err := srcAdm.DeleteRecords(ctx, kadm.Offsets{"LH.ORDERS": {0: {At: 30}}}); err != nil {
			t.Fatal(err)
		}
		e.bursts(t, 12)
		stop() // a clean stop snapshots too
		e.checkExact(t)
		idx, err := FinalSyncs(ctx, e.dstOpts, e.m)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := idx.Log("LH.ORDERS", 0).Translate(0); ok {
			t.Fatal("source offset 0, below the source's log start, is still translated: the snapshots kept every run")
		}

		// Started again, it resumes exactly.
		stop = runTask(t, e.task(3))
		e.bursts(t, 3)
		stop()
		e.checkExact(t)
	})
}

// A sync topic an older agent created compacted, holding its syncs and
// barrier, is migrated when the mirror's runner ensures it: the delete
// policy with unlimited retention, set in one request, once. Nothing is
// lost: the task resumes where the old history says, snapshots, deletes
// what its snapshot restates, and translation stays exact.
func TestACompactedSyncTopicOfAnOlderAgentIsMigratedWithoutLosingExactness(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		e := newSnapshotEnv(t, kind)
		ctx := context.Background()
		adm := kadm.NewClient(kafkatest.ClientOf(t, e.dst))
		topic := offsetsync.Topic(e.m.Name)
		// What agents before snapshots did: a compacted topic, and tasks
		// that write syncs only.
		if err := EnsureTopicPartitions(ctx, adm, topic, 1, true); err != nil {
			t.Fatal(err)
		}
		stop := runTask(t, e.task(-1))
		e.bursts(t, 8)
		stop()
		if start := e.syncLogStart(t); start != 0 {
			t.Fatalf("the older agent's history starts at %d", start)
		}

		migrations := 0
		hooks := Hooks{Step: func(_, step string) {
			if step == StepSyncTopicMigrating {
				migrations++
			}
		}}
		for range 2 {
			if err := ensureSyncTopic(ctx, adm, e.m.Name, 1, hooks, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
				t.Fatal(err)
			}
		}
		if migrations != 1 {
			t.Fatalf("the topic was migrated %d times, want once", migrations)
		}
		have, err := SyncTopicConfigs(ctx, adm, e.m.Name)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range offsetsync.TopicConfigs() {
			if have[k] != v {
				t.Fatalf("after the migration %s = %q, want %q", k, have[k], v)
			}
		}

		stop = runTask(t, e.task(3))
		e.bursts(t, 8)
		stop()
		if start := e.syncLogStart(t); start == 0 {
			t.Fatal("after the migration the task's snapshots deleted nothing")
		}
		e.checkExact(t)
	})
}
