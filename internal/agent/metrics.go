package agent

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kafka-failover/kafka-failover/internal/checkpoint"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/undecodable"
)

// registry holds every series the agent exports on /metrics but the API's
// own policyCollector, which NewServer registers.
type registry struct {
	*prometheus.Registry
	mirror     *mirror.Metrics
	checkpoint *checkpoint.Metrics
	clients    *kafkaconn.Observer // franz-go's, through kprom; and its logs
}

func newRegistry(log *slog.Logger) registry {
	r := registry{Registry: prometheus.NewRegistry()}
	r.mirror, r.checkpoint, r.clients = registerMetrics(r.Registry, log)
	return r
}

// registerMetrics registers the agent's series on reg; a test lists them
// through its own reg.
func registerMetrics(reg prometheus.Registerer, log *slog.Logger) (*mirror.Metrics, *checkpoint.Metrics, *kafkaconn.Observer) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	undecodable.Register(reg, log)
	return mirror.NewMetrics(reg), checkpoint.NewMetrics(reg), kafkaconn.NewObserver(log, reg)
}

// The agent's own gauges, read at each scrape from what the API answers, so
// that alerts and GET /v1/policies never disagree.
var (
	stateUpDesc = prometheus.NewDesc("kfo_state_cluster_up",
		"1 while the state cluster answers and the state topic is read without error (what /readyz answers), else 0.", nil, nil)
	standbyReadyDesc = prometheus.NewDesc("kfo_policy_standby_ready",
		"1 when the standby could take over now: its mirrors run, within the policy's lag limits, with fresh checkpoints.", []string{"policy", "cluster"}, nil)
	standbyLagRecordsDesc = prometheus.NewDesc("kfo_policy_standby_lag_records",
		"Source records not yet mirrored to the standby, summed over the policy's mirrors into it.", []string{"policy", "cluster"}, nil)
	standbyLagSecondsDesc = prometheus.NewDesc("kfo_policy_standby_lag_seconds",
		"Age of the oldest record waiting to be mirrored to the standby.", []string{"policy", "cluster"}, nil)
	maxLagRecordsDesc = prometheus.NewDesc("kfo_policy_max_lag_records",
		"The policy's max_lag_records: a standby further behind is not ready.", []string{"policy"}, nil)
	maxLagSecondsDesc = prometheus.NewDesc("kfo_policy_max_lag_seconds",
		"The policy's max_lag_seconds: a standby further behind is not ready.", []string{"policy"}, nil)
)

// policyCollector reports the state cluster's health and each policy's
// standbys.
type policyCollector struct{ s *server }

func (c policyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{stateUpDesc, standbyReadyDesc, standbyLagRecordsDesc, standbyLagSecondsDesc, maxLagRecordsDesc, maxLagSecondsDesc} {
		ch <- d
	}
}

func (c policyCollector) Collect(ch chan<- prometheus.Metric) {
	up := 1.0
	if c.s.Store.Healthy() != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(stateUpDesc, prometheus.GaugeValue, up)
	if c.s.Status == nil {
		return // no mirror engine: standbys cannot be told
	}
	for _, name := range c.s.Store.Policies() {
		p, err := c.s.Store.GetPolicy(name)
		if err != nil {
			continue // deleted since it was listed
		}
		ch <- prometheus.MustNewConstMetric(maxLagRecordsDesc, prometheus.GaugeValue, float64(p.MaxLagRecords), p.Name)
		ch <- prometheus.MustNewConstMetric(maxLagSecondsDesc, prometheus.GaugeValue, float64(p.MaxLagSeconds), p.Name)
		for _, sb := range c.s.standbys(p) {
			ready := 0.0
			if sb.Ready {
				ready = 1
			}
			ch <- prometheus.MustNewConstMetric(standbyReadyDesc, prometheus.GaugeValue, ready, p.Name, sb.Cluster)
			ch <- prometheus.MustNewConstMetric(standbyLagRecordsDesc, prometheus.GaugeValue, float64(sb.LagRecords), p.Name, sb.Cluster)
			ch <- prometheus.MustNewConstMetric(standbyLagSecondsDesc, prometheus.GaugeValue, float64(sb.LagSeconds), p.Name, sb.Cluster)
		}
	}
}
