package main

import (
	"testing"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// The agent holds its memory to a soft limit of 96 MiB, or one and a half
// times its live heap when that is more; GOMEMLIMIT replaces it.
func TestTheAgentSetsASoftMemoryLimitThatGOMEMLIMITReplaces(t *testing.T) {
	t.Parallel()
	if got := memoryLimitFor(200 << 20); got != 300<<20 {
		t.Errorf("soft limit for a live heap of 200 MiB: %d MiB, want 300", got>>20)
	}
	state := kafkatest.Cluster(t, "europe").BootstrapString()
	for _, c := range []struct {
		env  []string
		want float64
	}{
		{nil, minMemoryLimit},
		{[]string{"GOMEMLIMIT=300MiB"}, 300 << 20},
	} {
		a := startAgentWith(t, state, c.env)
		got, err := metricSum(a, "go_gc_gomemlimit_bytes")
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("agent with %q: memory limit %.0f MiB, want %.0f MiB", c.env, got/(1<<20), c.want/(1<<20))
		}
	}
}
