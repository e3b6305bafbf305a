package mirror

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// A task whose start hangs in one step (here the question whether its
// mirror is held, which blocks until its context ends) says so in the log
// with the step's name once it is slow, gives up when the start's bound is
// reached, and starts over: once the step answers, it copies. Before the
// watch, such a task copied nothing and said nothing, and the mirror's
// status did not even list its partitions.
func TestATaskWhoseStartHangsSaysInWhichStepAndStartsOver(t *testing.T) {
	var hung atomic.Bool
	hung.Store(true)
	e := newTaskEnv(t, func(ctx context.Context) (string, error) {
		if hung.Load() {
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "", nil
	})
	var logged lockedBuffer
	e.task.log = slog.New(slog.NewTextHandler(&logged, nil))
	e.task.startSlow, e.task.startLimit = 300*time.Millisecond, 2*time.Second
	kafkatest.NewProducer(t, e.src).Produce(t, "LH.ORDERS", 1, 50)
	e.run(t)

	const step = "asking the state topic whether the mirror is held"
	kafkatest.Eventually(t, 30*time.Second, "the task said it is slow, and in which step", func() (bool, string) {
		out := logged.String()
		return strings.Contains(out, `msg="mirror task start is slow" step="`+step+`"`), out
	})
	kafkatest.Eventually(t, 30*time.Second, "the task gave up its start and starts over", func() (bool, string) {
		out := logged.String()
		return strings.Contains(out, "mirror task start not done within 2s, while "+step), out
	})
	if n := len(kafkatest.ReadAll(t, e.dst, "LH.ORDERS")[0]); n != 0 {
		t.Fatalf("%d records on europe while the task was held in its start", n)
	}

	hung.Store(false)
	kafkatest.Eventually(t, 30*time.Second, "the restarted task copied everything", func() (bool, string) {
		n := len(kafkatest.ReadAll(t, e.dst, "LH.ORDERS")[0])
		return n == 50, fmt.Sprint(n, " of 50 records on europe")
	})
}
