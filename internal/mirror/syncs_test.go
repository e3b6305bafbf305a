package mirror

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// waitCopied waits until europe's LH.ORDERS[0] holds n committed records and
// answers them.
func (e *taskEnv) waitCopied(t *testing.T, n int) []kafkatest.Record {
	t.Helper()
	var got []kafkatest.Record
	kafkatest.Eventually(t, 30*time.Second, fmt.Sprintf("%d records on europe", n), func() (bool, string) {
		got = kafkatest.ReadAll(t, e.dst, "LH.ORDERS")[0]
		return len(got) >= n, fmt.Sprint(len(got), " records on europe")
	})
	return got
}

// A task of the old tasks_max, a zombie, has copied records of a partition
// and its offset sync in a transaction it has not committed yet when
// tasks_max changes and the partition moves to a task with another
// transactional id. The new task fences the zombie before it reads where the
// partition stands: the zombie's transaction is aborted, it cannot commit,
// and every source record is on the target once.
func TestATaskOfANewTasksMaxFencesAZombieOfTheOldOneMidTransaction(t *testing.T) {
	fenceZombieOfOldTasksMax(t, false)
}

// The same when the old task's barrier was deleted by its own snapshot
// before it became a zombie (which does not announce itself again): the
// snapshot keeps it announced, and the new task fences it.
func TestATaskOfANewTasksMaxFencesAZombieWhoseBarrierASnapshotDeleted(t *testing.T) {
	fenceZombieOfOldTasksMax(t, true)
}

// fenceZombieOfOldTasksMax runs the zombie scenario; snapshots: the old
// task snapshots after every transaction.
func fenceZombieOfOldTasksMax(t *testing.T, snapshots bool) {
	e := newTaskEnv(t, nil)
	ctx := context.Background()
	kafkatest.AddPartitions(t, e.dst, offsetsync.Topic(e.m.Name), 2)
	prod := kafkatest.NewProducer(t, e.src)
	prod.Produce(t, "LH.ORDERS", 1, 100)

	// tasks_max 3: the partition's task copies the first 100 records.
	old := TaskOf("LH.ORDERS", 0, 3)
	first := e.newTask(3, old)
	if snapshots {
		first.hooks.SnapshotFloor = 1
	}
	stop := runTask(t, first)
	e.waitCopied(t, 100)
	stop()
	if snapshots {
		starts, err := kadm.NewClient(kafkatest.Client(t, e.dst)).ListStartOffsets(ctx, offsetsync.Topic(e.m.Name))
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := starts.Lookup(offsetsync.Topic(e.m.Name), int32(old)); o.Offset == 0 {
			t.Fatal("the old task's barrier is still in its sync partition: no snapshot deleted it")
		}
	}

	// The old task again, as a zombie: it announces itself (unless a
	// snapshot keeps its first barrier, as a running task would) and copies the
	// next 50 records and their sync in a transaction left open, with a
	// timeout long past this test.
	prod.Produce(t, "LH.ORDERS", 1, 50)
	src := kafkatest.ReadAll(t, e.src, "LH.ORDERS")[0]
	zombie := kafkatest.Client(t, e.dst, kgo.TransactionalID(TransactionalID(e.m.Name, 3, old)),
		kgo.TransactionTimeout(10*time.Minute), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if _, _, err := zombie.ProducerID(ctx); err != nil {
		t.Fatal(err)
	}
	if !snapshots {
		if err := e.newTask(3, old).announce(ctx, zombie); err != nil {
			t.Fatal(err)
		}
	}
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var copies []*kgo.Record
	for _, r := range src[100:] {
		copies = append(copies, &kgo.Record{Topic: "LH.ORDERS", Partition: 0, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp})
	}
	if err := zombie.ProduceSync(ctx, copies...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sync := offsetsync.Sync{Topic: "LH.ORDERS", Partition: 0, TargetTopic: "LH.ORDERS",
		Runs: []offsetsync.Run{{Source: 100, Target: copies[0].Offset, Count: 50}}, SourceNext: 150}
	v, err := sync.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, &kgo.Record{Topic: offsetsync.Topic(e.m.Name), Partition: int32(old), Key: sync.Key(), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// tasks_max 1: task 0 owns the partition now; it copies the 50
	// records once the zombie is fenced, and does not wait for it.
	if TransactionalID(e.m.Name, 1, 0) == TransactionalID(e.m.Name, 3, old) {
		t.Fatal("the test needs the partition to change transactional id")
	}
	runTask(t, e.newTask(1, 0))
	got := e.waitCopied(t, 150)
	if err := zombie.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the zombie committed its transaction after the new task started")
	}
	got = kafkatest.ReadAll(t, e.dst, "LH.ORDERS")[0]
	if len(got) != len(src) {
		t.Fatalf("europe holds %d records of LH.ORDERS[0], north-america %d", len(got), len(src))
	}
	for i := range src {
		if !src[i].Equal(got[i]) {
			t.Fatalf("record %d differs between the clusters", i)
		}
	}
	// Translation stays exact: the final syncs hold no conflict and end
	// where the source ends.
	m := e.m
	m.TasksMax = 1
	idx, err := FinalSyncs(ctx, e.task.dstOpts, m)
	if err != nil {
		t.Fatalf("final offset syncs: %v", err)
	}
	if next := idx.Log("LH.ORDERS", 0).SourceNext(); next != 150 {
		t.Fatalf("final offset syncs end at source offset %d, want 150", next)
	}
	for i := range src {
		if target, ok := idx.Log("LH.ORDERS", 0).Translate(int64(i)); !ok || target != got[i].Offset {
			t.Fatalf("source offset %d translates to %d, %v; the record is at %d on europe", i, target, ok, got[i].Offset)
		}
	}
}
