package mirror

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// silenceLimit is how long a task's source may leave its fetches, or its
// target its produce and commit, unanswered before the task reports that it
// copies nothing. A source broker answers a fetch within its max wait
// (commitWindow) even when it has no records, and a target answers each
// produce of a transaction as it lands, so silence this long means the
// cluster cannot be reached: franz-go keeps redialing and retrying without
// an error, and the task would otherwise look healthy while a region lost
// meanwhile loses everything since.
const silenceLimit = 5 * time.Second

// silenceWatch is a hook on a task's client to its source or its target: it
// notes when the cluster last answered one of the requests the task waits
// on, and why the last connection failed.
type silenceWatch struct {
	side    string // "source" or "target"
	cluster string
	waitsOn string         // the requests, as the error names them
	keys    map[int16]bool // their keys

	mu       sync.Mutex
	waiting  time.Time // since when the task waits on the cluster; zero: it does not
	answered time.Time
	connErr  error
}

var (
	_ kgo.HookBrokerE2E     = (*silenceWatch)(nil)
	_ kgo.HookBrokerConnect = (*silenceWatch)(nil)
)

// fetchSilence watches a task's source, which it waits on while it fetches.
func fetchSilence(source string) *silenceWatch {
	return &silenceWatch{side: "source", cluster: source, waitsOn: "fetch", keys: map[int16]bool{int16(kmsg.Fetch): true}}
}

// commitSilence watches a task's target, which it waits on while it writes
// a transaction and commits it.
func commitSilence(target string) *silenceWatch {
	return &silenceWatch{side: "target", cluster: target, waitsOn: "produce or commit", keys: map[int16]bool{
		int16(kmsg.Produce): true, int16(kmsg.AddPartitionsToTxn): true, int16(kmsg.EndTxn): true,
	}}
}

func (w *silenceWatch) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if !w.keys[key] || e2e.Err() != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answered, w.connErr = time.Now(), nil
}

func (w *silenceWatch) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.connErr = err
}

// wait counts the silence from now: the task starts waiting on the cluster.
func (w *silenceWatch) wait(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting = now
}

// done says the task waits on the cluster no more.
func (w *silenceWatch) done() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting = time.Time{}
}

// silence answers an error when the task has waited on the cluster for
// silenceLimit without an answer.
func (w *silenceWatch) silence(now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting.IsZero() {
		return nil
	}
	last := w.waiting
	if w.answered.After(last) {
		last = w.answered
	}
	if quiet := now.Sub(last); quiet > silenceLimit {
		why := "no " + w.waitsOn + " answered"
		if w.connErr != nil {
			why = w.connErr.Error()
		}
		return fmt.Errorf("%s %s answered no %s for %s: %s", w.side, w.cluster, w.waitsOn, quiet.Round(time.Second), why)
	}
	return nil
}

// silences are what a task waits on: its source while it fetches, its
// target while it writes and commits what it fetched.
type silences struct{ source, target *silenceWatch }

func (s silences) fetching(now time.Time) { s.target.done(); s.source.wait(now) }
func (s silences) writing(now time.Time)  { s.source.done(); s.target.wait(now) }
func (s silences) idle()                  { s.source.done(); s.target.done() }

// report sets the task's silence in its status every second until ctx
// ends: the task may be blocked on the silent cluster itself, since
// franz-go retries a produce or a fetch without end.
func (t *task) report(ctx context.Context, s silences) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var was error
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			err := s.source.silence(now)
			if err == nil {
				err = s.target.silence(now)
			}
			switch {
			case err != nil && was == nil:
				t.log.Warn("mirror task copies nothing: a cluster it waits on does not answer", "error", err)
			case err == nil && was != nil:
				t.log.Info("mirror task copies again: the cluster it waited on answers", "was", was)
			}
			was = err
			t.stats.setSilence(err)
		}
	}
}
