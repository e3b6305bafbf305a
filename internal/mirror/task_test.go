package mirror

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// A replica whose tail of the state topic lags may restart a task after a
// failover fenced it, before the replica has read the freeze. The task asks
// whether the mirror is frozen, from the state topic read up to now, before
// it copies anything: a frozen mirror copies nothing, and that is not
// counted as a failure; once the freeze is lifted, it copies.
func TestATaskCopiesNothingWhileItsMirrorIsFrozenAndResumesWhenLifted(t *testing.T) {
	src := kafkatest.Cluster(t, "north-america").Bootstrap()
	dst := kafkatest.Cluster(t, "europe").Bootstrap()
	m := agentapi.Mirror{Name: "na-to-eu", Source: "north-america", Target: "europe", StartFrom: agentapi.StartEarliest, TasksMax: 1}
	kafkatest.CreateTopic(t, src, "LH.ORDERS", 1, nil)
	kafkatest.CreateTopic(t, dst, "LH.ORDERS", 1, nil)
	kafkatest.CreateTopic(t, dst, offsetsync.Topic(m.Name), 1, nil)
	kafkatest.NewProducer(t, src).Produce(t, "LH.ORDERS", 1, 100)

	var (
		mu     sync.Mutex
		why    = "a failover of policy loosehanger is under way"
		checks atomic.Int32
	)
	tk := &task{
		id: 0, m: m,
		srcOpts: []kgo.Opt{kgo.SeedBrokers(src...)},
		dstOpts: []kgo.Opt{kgo.SeedBrokers(dst...)},
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		stats:   newTaskStats(0, "agent"),
		metrics: NewMetrics(prometheus.NewRegistry()),
		partsCh: make(chan []SourcePartition, 1), restartIn: 100 * time.Millisecond,
		frozen: func(context.Context) (string, error) {
			checks.Add(1)
			mu.Lock()
			defer mu.Unlock()
			return why, nil
		},
	}
	tk.setPartitions([]SourcePartition{{Topic: "LH.ORDERS", Partition: 0, TargetTopic: "LH.ORDERS"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

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
