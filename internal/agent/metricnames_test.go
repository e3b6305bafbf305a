package agent

import (
	"context"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// recorder keeps what is registered on it, so that even series with no
// sample yet (a counter of failures that never happened) can be named.
type recorder struct {
	*prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registry.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exportedNames answers every series name the agent's /metrics may hold:
// those its collectors describe, and those of franz-go's clients, which
// appear once a client talked to a cluster.
func exportedNames(t *testing.T) map[string]bool {
	rec := &recorder{Registry: prometheus.NewRegistry()}
	_, _, clients := registerMetrics(rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rec.collectors = append(rec.collectors, policyCollector{})
	names := map[string]bool{}
	for _, c := range rec.collectors {
		ch := make(chan *prometheus.Desc)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			names[fqName.FindStringSubmatch(d.String())[1]] = true
		}
	}

	cluster := kafkatest.Cluster(t, "europe")
	opts, err := kafkaconn.Opts(kafkaconn.Conn{Name: "state", BootstrapServers: cluster.Bootstrap(), Observer: clients})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// A second client of a cluster that is not there: connect errors.
	gone, err := kafkaconn.Opts(kafkaconn.Conn{Name: "gone", BootstrapServers: []string{kafkatest.FreeAddr(t)}, Observer: clients})
	if err != nil {
		t.Fatal(err)
	}
	gcl, err := kgo.NewClient(append(gone, kgo.RetryTimeout(time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	defer gcl.Close()
	_ = gcl.Ping(ctx)
	families, err := rec.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		names[f.GetName()] = true
	}
	return names
}

// The alerting rules and the dashboard name only series the agent
// exports (and Prometheus's own up), so the two cannot drift apart.
func TestMonitoringExamplesNameOnlySeriesTheAgentExports(t *testing.T) {
	exported := exportedNames(t)
	used := regexp.MustCompile(`\b(?:kfo|go|process)_[a-z0-9_]+\b`)
	for _, file := range []string{"alerts.yml", "dashboard.json"} {
		raw, err := os.ReadFile("../../examples/monitoring/" + file)
		if err != nil {
			t.Fatal(err)
		}
		names := used.FindAllString(string(raw), -1)
		if len(names) < 10 {
			t.Fatalf("%s names %d series; the pattern that finds them is broken", file, len(names))
		}
		for _, n := range names {
			if !exported[n] {
				var kfo []string
				for e := range exported {
					if strings.HasPrefix(e, "kfo_") {
						kfo = append(kfo, e)
					}
				}
				slices.Sort(kfo)
				t.Errorf("%s uses %s, which the agent does not export; it exports %s", file, n, strings.Join(kfo, ", "))
			}
		}
	}
}
