package checkpoint

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the checkpoint series.
type Metrics struct {
	age       *prometheus.GaugeVec
	synced    *prometheus.CounterVec
	misses    *prometheus.CounterVec
	errors    *prometheus.CounterVec
	roundSecs *prometheus.GaugeVec
	caughtUp  *prometheus.GaugeVec

	mu       sync.Mutex
	lastGood map[string]time.Time // mirror\x00group -> last checkpoint without error
}

// NewMetrics registers the checkpoint series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		lastGood: map[string]time.Time{},
		age: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kfo_checkpoint_age_seconds", Help: "Seconds since the group's offsets were last checkpointed; grows while checkpointing it fails.",
		}, []string{"mirror", "group"}),
		synced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfo_checkpoint_partitions_synced_total", Help: "Partitions whose translated offset was committed to the group on the target.",
		}, []string{"mirror"}),
		misses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfo_checkpoint_translation_misses_total", Help: "Committed source offsets with nothing mirrored to translate them to.",
		}, []string{"mirror"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfo_checkpoint_sync_errors_total", Help: "Group checkpoint failures, by group; each is retried the next round.",
		}, []string{"mirror", "group"}),
		roundSecs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kfo_checkpoint_round_seconds", Help: "How long the last checkpoint round took.",
		}, []string{"mirror"}),
		caughtUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kfo_checkpoint_translator_caught_up", Help: "1 once the checkpointing agent has read the mirror's offset syncs up to their end as they stood at its start; checkpoint rounds wait until then.",
		}, []string{"mirror"}),
	}
	reg.MustRegister(m.age, m.synced, m.misses, m.errors, m.roundSecs, m.caughtUp)
	return m
}

func (m *Metrics) translatorCaughtUp(mirror string, ready bool) {
	if m == nil {
		return
	}
	v := 0.0
	if ready {
		v = 1
	}
	m.caughtUp.WithLabelValues(mirror).Set(v)
}

func (m *Metrics) round(mirror string, st RoundStats, groups []string, errs map[string]string, now time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.synced.WithLabelValues(mirror).Add(float64(st.Committed))
	m.misses.WithLabelValues(mirror).Add(float64(st.Misses))
	for _, g := range groups {
		key := mirror + "\x00" + g
		if _, failed := errs[g]; failed {
			m.errors.WithLabelValues(mirror, g).Inc()
		} else {
			m.lastGood[key] = now
		}
		if at, ok := m.lastGood[key]; ok {
			m.age.WithLabelValues(mirror, g).Set(now.Sub(at).Seconds())
		}
	}
	m.roundSecs.WithLabelValues(mirror).Set(time.Since(now).Seconds())
}
