package kafkaconn

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/twmb/franz-go/plugin/kslog"
)

// ClientMetricsNamespace prefixes the franz-go client metrics, e.g.
// kfo_client_connect_errors_total{cluster="europe",node_id="1"}.
const ClientMetricsNamespace = "kfo_client"

// ClientLogLevel is the least level of franz-go's own log lines that reach
// the agent's log: its info lines come with every metadata refresh.
const ClientLogLevel = slog.LevelWarn

// Observer sends the logs and metrics of every franz-go client the agent
// builds to the agent's logger and Prometheus registry, per cluster.
type Observer struct {
	log *slog.Logger
	mu  sync.Mutex
	// One kprom.Metrics per cluster, shared by all its clients, so that
	// counters outlive the many short-lived clients and do not reset.
	byCluster map[string]*clusterMetrics
}

// NewObserver returns an Observer whose client metrics are collected by reg.
func NewObserver(log *slog.Logger, reg prometheus.Registerer) *Observer {
	o := &Observer{log: slog.New(atLeast{log.Handler(), ClientLogLevel}), byCluster: map[string]*clusterMetrics{}}
	reg.MustRegister(o)
	return o
}

// opts hooks a client of the named cluster to o.
func (o *Observer) opts(cluster string) []kgo.Opt {
	o.mu.Lock()
	m, ok := o.byCluster[cluster]
	if !ok {
		m = &clusterMetrics{Metrics: kprom.NewMetrics(ClientMetricsNamespace,
			kprom.Registry(nil), // collected through o, see Collect
			kprom.WithStaticLabel(prometheus.Labels{"cluster": cluster}),
			kprom.FetchAndProduceDetail(kprom.ByNode, kprom.Records, kprom.UncompressedBytes))}
		o.byCluster[cluster] = m
	}
	o.mu.Unlock()
	return []kgo.Opt{
		kgo.WithLogger(kslog.New(o.log.With("component", "franz-go", "cluster", cluster))),
		kgo.WithHooks(m),
	}
}

// Describe describes nothing: the clusters, and so the series, come and go.
func (o *Observer) Describe(chan<- *prometheus.Desc) {}

// Collect sends every cluster's client metrics but kprom's buffered_*
// gauges, which read one client only where a cluster has many.
func (o *Observer) Collect(ch chan<- prometheus.Metric) {
	o.mu.Lock()
	ms := make([]*clusterMetrics, 0, len(o.byCluster))
	for _, m := range o.byCluster {
		if m.ready.Load() {
			ms = append(ms, m)
		}
	}
	o.mu.Unlock()
	for _, m := range ms {
		inner := make(chan prometheus.Metric)
		go func() {
			m.Metrics.Collect(inner)
			close(inner)
		}()
		for metric := range inner {
			if !strings.Contains(metric.Desc().String(), "_buffered_") {
				ch <- metric
			}
		}
	}
}

// clusterMetrics is kprom's Metrics made to serve many clients: it builds
// its series on the first client and keeps them when clients close.
type clusterMetrics struct {
	*kprom.Metrics
	once  sync.Once
	ready atomic.Bool
}

// OnNewClient builds the series once; franz-go calls it before the client
// starts, so no other hook of the client runs before the series exist.
func (m *clusterMetrics) OnNewClient(cl *kgo.Client) {
	m.once.Do(func() {
		m.Metrics.OnNewClient(cl)
		m.ready.Store(true)
	})
}

// OnClientClosed keeps the series: other clients of the cluster use them.
func (m *clusterMetrics) OnClientClosed(*kgo.Client) {}

// atLeast drops records below min before they are formatted.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atLeast{h.Handler.WithAttrs(attrs), h.min}
}

func (h atLeast) WithGroup(name string) slog.Handler {
	return atLeast{h.Handler.WithGroup(name), h.min}
}
