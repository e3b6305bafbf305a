package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// A task's start (fence its earlier owners, announce itself, ask whether it
// is held, read its progress) is a handful of requests; a step that lasts
// startSlow is said in the log with its name, and the steps before the read
// of the progress are bounded by startLimit, after which the task starts
// over like after any error. Those steps have waits without a bound of their
// own (franz-go retries without end), and a task that hung in one copied
// nothing and said nothing.
const (
	startSlow  = 15 * time.Second
	startLimit = 2 * time.Minute
)

// startWatch names the start step a task is in and says so when one is slow.
type startWatch struct {
	log         *slog.Logger
	slow, limit time.Duration
	ctx         context.Context // the start's, bounded by limit
	// unbounded is the task's own context, for the read of the offset
	// syncs: its length follows the history (all of it, on the first
	// start after an upgrade from before snapshots), and it fails by
	// itself when it stops making progress (syncReadStall).
	unbounded context.Context
	cancel    context.CancelFunc
	stopped   chan struct{}

	mu    sync.Mutex
	step  string
	since time.Time
	said  bool
}

// watchStart bounds the task's start: the bounded steps run in w.ctx, the
// read of the offset syncs in w.unbounded, and w.end must be called once
// the start is over.
func (t *task) watchStart(ctx context.Context) *startWatch {
	w := &startWatch{log: t.log, slow: t.startSlow, limit: t.startLimit, unbounded: ctx, stopped: make(chan struct{})}
	if w.slow <= 0 {
		w.slow = startSlow
	}
	if w.limit <= 0 {
		w.limit = startLimit
	}
	w.ctx, w.cancel = context.WithTimeout(ctx, w.limit)
	go w.watch(w.ctx)
	return w
}

// enter starts step.
func (w *startWatch) enter(step string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.step, w.since, w.said = step, time.Now(), false
}

// end stops the watch; err, when the start failed because it ran out of
// time, is answered naming the step it was in.
func (w *startWatch) end(err error) error {
	limited := w.unbounded.Err() == nil && errors.Is(w.ctx.Err(), context.DeadlineExceeded)
	w.cancel()
	<-w.stopped
	if err == nil || !limited {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Errorf("mirror task start not done within %s, while %s: %w", w.limit, w.step, err)
}

func (w *startWatch) watch(ctx context.Context) {
	defer close(w.stopped)
	tick := time.NewTicker(min(time.Second, w.slow/2))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			w.mu.Lock()
			if !w.said && w.step != "" && now.Sub(w.since) >= w.slow {
				w.said = true
				w.log.Warn("mirror task start is slow", "step", w.step, "for", now.Sub(w.since).Round(time.Second))
			}
			w.mu.Unlock()
		}
	}
}
