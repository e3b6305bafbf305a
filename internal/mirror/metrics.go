package mirror

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the mirror engine's Prometheus series.
type Metrics struct {
	records *prometheus.CounterVec
	lag     *prometheus.GaugeVec
	lagMs   *prometheus.GaugeVec
	errors  *prometheus.CounterVec
	skipped *prometheus.CounterVec
}

// NewMetrics registers the mirror series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfo_mirror_records_total", Help: "Records copied to the target and committed, by mirror and source topic.",
		}, []string{"mirror", "topic"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kfo_mirror_lag_records", Help: "Source records not yet mirrored, by partition, as last seen by this agent's tasks.",
		}, []string{"mirror", "topic", "partition"}),
		lagMs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kfo_mirror_lag_milliseconds", Help: "Age of the last mirrored record while records wait, by partition.",
		}, []string{"mirror", "topic", "partition"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfo_mirror_errors_total", Help: "Mirror task failures (each is followed by a restart from the last committed offset sync).",
		}, []string{"mirror"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kfo_mirror_records_skipped_total",
			Help: "Source offsets deleted at the source (retention, DeleteRecords) before they were mirrored, by partition, as this agent's tasks found them; transaction markers among them count too.",
		}, []string{"mirror", "topic", "partition"}),
	}
	reg.MustRegister(m.records, m.lag, m.lagMs, m.errors, m.skipped)
	return m
}
