package mirror

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sourceSilence is how long a task's source may leave its fetches
// unanswered before the task reports that it copies nothing. A broker
// answers a fetch within its max wait (commitWindow) even when it has no
// records, so silence this long means it cannot be reached: franz-go keeps
// redialing and hands the poll no error, and the task would otherwise look
// healthy while a region lost meanwhile loses everything since.
const sourceSilence = 5 * time.Second

// fetchWatch is a hook on a task's source client that notes when a fetch
// was last answered and why the last connection failed.
type fetchWatch struct {
	mu       sync.Mutex
	answered time.Time
	dialErr  error
}

var (
	_ kgo.HookBrokerE2E     = (*fetchWatch)(nil)
	_ kgo.HookBrokerConnect = (*fetchWatch)(nil)
)

func (w *fetchWatch) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key != int16(kmsg.Fetch) || e2e.Err() != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answered, w.dialErr = time.Now(), nil
}

func (w *fetchWatch) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dialErr = err
}

// restart counts the silence from now: the task starts fetching.
func (w *fetchWatch) restart(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answered = now
}

// silence answers an error when no fetch was answered for sourceSilence.
func (w *fetchWatch) silence(now time.Time, source string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if quiet := now.Sub(w.answered); quiet > sourceSilence {
		why := "no fetch answered"
		if w.dialErr != nil {
			why = w.dialErr.Error()
		}
		return fmt.Errorf("source %s answered no fetch for %s: %s", source, quiet.Round(time.Second), why)
	}
	return nil
}
