package mirror

import (
	"sync"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// taskStats is what a task knows about its partitions, for status and metrics.
type taskStats struct {
	task  int
	agent string
	mu    sync.Mutex
	err   string
	// silence says which cluster the task waits on in vain, apart from
	// err: the task's loop owns err, its silence reporter this.
	silence string
	byTP    map[tp]*agentapi.PartitionStatus
	rate    map[tp]*rateWindow
}

// rateWindow counts records over the last few seconds for records/s, and
// remembers when high watermarks were seen, for lag in time.
type rateWindow struct {
	since time.Time
	count int64
	last  float64
	// seen holds (high watermark, when first seen), oldest first: the
	// first entry above the mirrored position says since when the oldest
	// waiting record has existed. Wall-clock, so a producer's skewed or
	// replayed record timestamps do not distort it.
	seen []hwmSeen
}

type hwmSeen struct {
	hwm int64
	at  time.Time
}

// maxSeen bounds the observations kept per partition.
const maxSeen = 64

func newTaskStats(task int, agent string) *taskStats {
	return &taskStats{task: task, agent: agent, byTP: map[tp]*agentapi.PartitionStatus{}, rate: map[tp]*rateWindow{}}
}

// starting lists parts, whose task is in its start, as starting: with no
// position of their own until track gives them one.
func (s *taskStats) starting(parts []SourcePartition) {
	for _, p := range parts {
		s.track(p, -1)
		s.mu.Lock()
		s.byTP[tp{p.Topic, p.Partition}].Starting = true
		s.mu.Unlock()
	}
}

func (s *taskStats) track(p SourcePartition, lastMirrored int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := tp{p.Topic, p.Partition}
	if old, ok := s.byTP[k]; ok {
		// A restarted task keeps what it knew: the high watermark last
		// seen is what a forced failover reports losses against.
		old.LastMirroredOffset = max(old.LastMirroredOffset, lastMirrored)
		old.Starting = false
		return
	}
	s.byTP[k] = &agentapi.PartitionStatus{Topic: p.Topic, TargetTopic: p.TargetTopic, Partition: p.Partition, Task: s.task, Agent: s.agent, LastMirroredOffset: lastMirrored, SourceHighWatermark: -1}
	s.rate[k] = &rateWindow{since: time.Now()}
}

// setSkipped sets the offsets of a partition the source deleted before
// they were mirrored, over its whole history.
func (s *taskStats) setSkipped(k tp, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.byTP[k]; ok {
		p.RecordsSkipped = n
	}
}

func (s *taskStats) untrack(k tp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byTP, k)
	delete(s.rate, k)
}

func (s *taskStats) setError(err error) { s.set(&s.err, err) }

func (s *taskStats) setSilence(err error) { s.set(&s.silence, err) }

func (s *taskStats) set(field *string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*field = ""
	if err != nil {
		*field = err.Error()
	}
}

func (s *taskStats) sawHighWatermark(k tp, hwm int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byTP[k]
	if !ok || hwm < p.SourceHighWatermark {
		return
	}
	p.SourceHighWatermarkAt = time.Now().UTC()
	if hwm == p.SourceHighWatermark {
		return
	}
	p.SourceHighWatermark = hwm
	if hwm > p.LastMirroredOffset+1 {
		w := s.rate[k]
		if len(w.seen) == maxSeen {
			w.seen = append(w.seen[:maxSeen/2], w.seen[maxSeen/2+1:]...) // thin the middle, keep the oldest
		}
		w.seen = append(w.seen, hwmSeen{hwm: hwm, at: time.Now()})
	}
}

func (s *taskStats) mirrored(k tp, lastOffset int64, n int64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byTP[k]
	if !ok {
		return
	}
	p.LastMirroredOffset = lastOffset
	if lastOffset+1 > p.SourceHighWatermark {
		p.SourceHighWatermark, p.SourceHighWatermarkAt = lastOffset+1, now.UTC()
	}
	w := s.rate[k]
	for len(w.seen) > 0 && w.seen[0].hwm <= lastOffset+1 {
		w.seen = w.seen[1:] // everything that existed then is copied
	}
	w.count += n
	if d := now.Sub(w.since); d >= 2*time.Second {
		w.last = float64(w.count) / d.Seconds()
		w.since, w.count = now, 0
	}
}

// snapshot answers the partitions' status as of now.
func (s *taskStats) snapshot(now time.Time) []agentapi.PartitionStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]agentapi.PartitionStatus, 0, len(s.byTP))
	for k, p := range s.byTP {
		st := *p
		st.LagRecords = 0
		if st.SourceHighWatermark >= 0 {
			st.LagRecords = max(0, st.SourceHighWatermark-(st.LastMirroredOffset+1))
		}
		// With records waiting, lag in time is how old the last copied
		// record is: the next one cannot be older than that.
		w := s.rate[k]
		if st.LagRecords > 0 && len(w.seen) > 0 {
			st.LagMillis = max(0, now.Sub(w.seen[0].at).Milliseconds())
		}
		st.RecordsPerSecond = w.last
		if d := now.Sub(w.since); d > 0 && w.count > 0 && w.last == 0 {
			st.RecordsPerSecond = float64(w.count) / d.Seconds()
		}
		st.Error = s.err
		if st.Error == "" {
			st.Error = s.silence
		}
		st.UpdatedAt = now
		out = append(out, st)
	}
	return out
}
