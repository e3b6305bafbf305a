package mirror

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the mirror engine's Prometheus series.
type Metrics struct {
	records *prometheus.CounterVec
	lag     *prometheus.GaugeVec
	lagMs   *prometheus.GaugeVec
	errors  *prometheus.CounterVec
	skipped *prometheus.CounterVec
	// notCopying and notCopyingSince say that, and since when, partitions
	// of a mirror are not copied: every second of it is data at risk.
	notCopying      *prometheus.GaugeVec
	notCopyingSince *prometheus.GaugeVec
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
		notCopying: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kfo_mirror_partitions_not_copying",
			Help: "Mirrored partitions that no task copies now: their task runs nowhere (a lost replica whose session has not ended, a handover) or fails.",
		}, []string{"mirror"}),
		notCopyingSince: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kfo_mirror_not_copying_since_timestamp_seconds",
			Help: "Unix time since which partitions of the mirror are not copied (see kfo_mirror_partitions_not_copying); 0 while every partition is copied.",
		}, []string{"mirror"}),
	}
	reg.MustRegister(m.records, m.lag, m.lagMs, m.errors, m.skipped, m.notCopying, m.notCopyingSince)
	return m
}
