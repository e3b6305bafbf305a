package mirror

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// A replica whose tail of the state topic lags may restart a task after a
// failover fenced it, before the replica has read the freeze. The task asks
// whether the mirror is frozen, from the state topic read up to now, before
// it copies anything: a frozen mirror copies nothing, and that is not
// counted as a failure; once the freeze is lifted, it copies.
// taskEnv is one mirror task between two clusters of this test, copying
// LH.ORDERS[0] from north-america to europe.
type taskEnv struct {
	src, dst []string
	srcDev   *devcluster.Cluster
	m        agentapi.Mirror
	task     *task
}

func newTaskEnv(t *testing.T, hold func(context.Context) (string, error)) *taskEnv {
	t.Helper()
	na := kafkatest.Cluster(t, "north-america")
	e := &taskEnv{
		src: na.Bootstrap(), srcDev: na,
		dst: kafkatest.Cluster(t, "europe").Bootstrap(),
		m:   agentapi.Mirror{Name: "na-to-eu", Source: "north-america", Target: "europe", StartFrom: agentapi.StartEarliest, TasksMax: 1},
	}
	kafkatest.CreateTopic(t, e.src, "LH.ORDERS", 1, nil)
	kafkatest.CreateTopic(t, e.dst, "LH.ORDERS", 1, nil)
	kafkatest.CreateTopic(t, e.dst, offsetsync.Topic(e.m.Name), 1, nil)
	e.task = e.newTask(1, 0)
	e.task.hold = hold
	return e
}

// newTask answers task id of the mirror run with tasksMax tasks, copying
// LH.ORDERS[0].
func (e *taskEnv) newTask(tasksMax, id int) *task {
	m := e.m
	m.TasksMax = tasksMax
	tk := &task{
		id: id, m: m,
		srcOpts: []kgo.Opt{kgo.SeedBrokers(e.src...)},
		dstOpts: []kgo.Opt{kgo.SeedBrokers(e.dst...)},
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		stats:   newTaskStats(id, "agent"),
		metrics: NewMetrics(prometheus.NewRegistry()),
		partsCh: make(chan []SourcePartition, 1), restartIn: 100 * time.Millisecond,
	}
	tk.setPartitions([]SourcePartition{{Topic: "LH.ORDERS", Partition: 0, TargetTopic: "LH.ORDERS"}})
	return tk
}

// run runs the task until the test ends.
func (e *taskEnv) run(t *testing.T) { runTask(t, e.task) }

// runTask runs tk until the answered stop is called or the test ends; the
// stop lets tk commit what it fetched, as the runner's does.
func runTask(t testing.TB, tk *task) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	work, end := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer end()
		tk.run(ctx, work)
	}()
	stop = func() {
		cancel()
		select { // bounded as the runner's stop is
		case <-done:
		case <-time.After(5 * time.Second):
			end()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestATaskCopiesNothingWhileItsMirrorIsFrozenAndResumesWhenLifted(t *testing.T) {
	var (
		mu     sync.Mutex
		why    = "a failover of policy loosehanger is under way"
		checks atomic.Int32
	)
	e := newTaskEnv(t, func(context.Context) (string, error) {
		checks.Add(1)
		mu.Lock()
		defer mu.Unlock()
		return why, nil
	})
	src, dst, m, tk := e.src, e.dst, e.m, e.task
	kafkatest.NewProducer(t, src).Produce(t, "LH.ORDERS", 1, 100)
	e.run(t)

	// Frozen: the task keeps asking and copies nothing.
	kafkatest.Eventually(t, 10*time.Second, "the task asked again", func() (bool, string) {
		return checks.Load() >= 3, fmt.Sprint(checks.Load(), " checks")
	})
	if n := len(kafkatest.ReadAll(t, dst, "LH.ORDERS")[0]); n != 0 {
		t.Fatalf("%d records copied while the mirror was frozen, want 0", n)
	}
	var failures dto.Metric
	if err := tk.metrics.errors.WithLabelValues(m.Name).Write(&failures); err != nil {
		t.Fatal(err)
	}
	if n := failures.GetCounter().GetValue(); n != 0 {
		t.Fatalf("a frozen mirror counted %v task failures, want 0", n)
	}

	// Lifted: every record is copied.
	mu.Lock()
	why = ""
	mu.Unlock()
	kafkatest.Eventually(t, 30*time.Second, "the records copied after the freeze was lifted", func() (bool, string) {
		n := len(kafkatest.ReadAll(t, dst, "LH.ORDERS")[0])
		return n == 100, fmt.Sprint(n, " records on europe")
	})
}

// A record leaves the source as soon as it is written: the task's fetches
// never ask the source to hold records back for a fuller answer. Records a
// broker holds are lost with it; those the task holds, a forced failover
// commits (TestAForcedFailoverKeepsTheRecordsItsTasksAlreadyFetched).
func TestATaskTakesRecordsOffTheSourceAsTheyCome(t *testing.T) {
	e := newTaskEnv(t, nil)
	var (
		mu   sync.Mutex
		held []string
	)
	e.srcDev.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		e.srcDev.KeepControl()
		if f := req.(*kmsg.FetchRequest); f.MinBytes > 1 {
			mu.Lock()
			held = append(held, fmt.Sprintf("min %d bytes, up to %d ms", f.MinBytes, f.MaxWaitMillis))
			mu.Unlock()
		}
		return nil, nil, false
	})
	kafkatest.NewProducer(t, e.src).Produce(t, "LH.ORDERS", 1, 10)
	e.run(t)
	kafkatest.Eventually(t, 30*time.Second, "the records copied", func() (bool, string) {
		n := len(kafkatest.ReadAll(t, e.dst, "LH.ORDERS")[0])
		return n == 10, fmt.Sprint(n, " records on europe")
	})
	mu.Lock()
	defer mu.Unlock()
	if len(held) > 0 {
		t.Fatalf("%d fetches asked the source to hold records back, the first: %s", len(held), held[0])
	}
}

// Records that trickle in share transactions: a fetch waits up to
// commitWindow for more, so the offset syncs (one per partition and
// transaction, kept for exact translation) grow with time, not with records.
func TestATrickleOfRecordsSharesTransactions(t *testing.T) {
	e := newTaskEnv(t, nil)
	e.run(t)
	const records = 200
	cl := kafkatest.Client(t, e.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	tick := time.NewTicker(10 * time.Millisecond) // 2 s in all
	defer tick.Stop()
	for i := range records {
		r := &kgo.Record{Topic: "LH.ORDERS", Partition: 0, Value: fmt.Appendf(nil, "order %d", i)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		<-tick.C
	}
	kafkatest.Eventually(t, 30*time.Second, "every record copied", func() (bool, string) {
		n := len(kafkatest.ReadAll(t, e.dst, "LH.ORDERS")[0])
		return n == records, fmt.Sprint(n, " records on europe")
	})
	syncs := 0
	for _, r := range kafkatest.ReadAll(t, e.dst, offsetsync.Topic(e.m.Name))[0] {
		if !offsetsync.IsBarrier(r.Key) {
			syncs++
		}
	}
	// One transaction per record would be 200; one per window at most
	// about 2s/50ms = 40.
	if syncs == 0 || syncs > records/3 {
		t.Fatalf("%d offset syncs (transactions) for %d records produced one every 10 ms; want at most %d", syncs, records, records/3)
	}
	t.Logf("%d records in %d transactions", records, syncs)
}

// A record the target refuses as too large stops the task with an error
// that names the record's source offset and what to change; it is not
// skipped.
func TestARecordTooLargeForTheTargetIsNamedNotSkipped(t *testing.T) {
	e := newTaskEnv(t, nil)
	small := "1000"
	adm := kadm.NewClient(kafkatest.Client(t, e.dst))
	if _, err := adm.DeleteTopics(context.Background(), "LH.ORDERS"); err != nil {
		t.Fatal(err)
	}
	kafkatest.CreateTopic(t, e.dst, "LH.ORDERS", 1, map[string]*string{"max.message.bytes": &small})
	cl := kafkatest.Client(t, e.src, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	big := make([]byte, 5000)
	_, _ = crand.Read(big) // incompressible: the task's producer compresses
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "LH.ORDERS", Partition: 0, Value: big}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var logged lockedBuffer
	e.task.log = slog.New(slog.NewTextHandler(&logged, nil))
	e.run(t)
	kafkatest.Eventually(t, 30*time.Second, "the task's error names the record", func() (bool, string) {
		out := logged.String()
		return strings.Contains(out, "the record at source offset 0 of LH.ORDERS[0] is larger than the target topic LH.ORDERS allows: raise its max.message.bytes"), out
	})
	if n := len(kafkatest.ReadAll(t, e.dst, "LH.ORDERS")[0]); n != 0 {
		t.Fatalf("%d records on europe; the refused record must not be skipped past", n)
	}
}

// lockedBuffer is a log destination the test reads while the task writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A task holds about two fetches per source broker (one being copied, the
// next buffered): the default tasks of one agent must keep them within
// half of its 128 MiB memory goal per source broker.
func TestTheFetchesOfAnAgentsTasksStayWithinItsMemoryBudget(t *testing.T) {
	const budget = 64 << 20
	tk := &task{srcOpts: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}}
	cl, err := kgo.NewClient(tk.consumerOpts(fetchSilence("north-america"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	maxBytes := int64(cl.OptValue(kgo.FetchMaxBytes).(int32))
	perPartition := int64(cl.OptValue(kgo.FetchMaxPartitionBytes).(int32))
	if held := 2 * agentapi.DefaultTasksMax * maxBytes; held > budget {
		t.Fatalf("%d tasks with 2 fetches of up to %d MiB hold %d MiB, over %d MiB", agentapi.DefaultTasksMax, maxBytes>>20, held>>20, budget>>20)
	}
	if perPartition > maxBytes {
		t.Fatalf("a partition may fetch %d MiB, more than a whole fetch's %d MiB", perPartition>>20, maxBytes>>20)
	}
}

// A task that has not finished its start (here held at the question
// whether its mirror is held) lists its partitions as starting, with no
// position of its own; once started it lists them as copying, where its
// offset syncs say they stand.
func TestATaskListsItsPartitionsAsStartingUntilItsStartIsDone(t *testing.T) {
	release := make(chan struct{})
	e := newTaskEnv(t, func(ctx context.Context) (string, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return "", ctx.Err()
	})
	kafkatest.NewProducer(t, e.src).Produce(t, "LH.ORDERS", 1, 10)
	e.run(t)
	listed := func() []agentapi.PartitionStatus { return e.task.stats.snapshot(time.Now()) }
	kafkatest.Eventually(t, 10*time.Second, "the partition listed as starting", func() (bool, string) {
		got := listed()
		return len(got) == 1 && got[0].Starting && got[0].LastMirroredOffset == -1, fmt.Sprintf("%+v", got)
	})
	close(release)
	kafkatest.Eventually(t, 30*time.Second, "the partition copied", func() (bool, string) {
		got := listed()
		return len(got) == 1 && !got[0].Starting && got[0].LastMirroredOffset == 9, fmt.Sprintf("%+v", got)
	})
}
