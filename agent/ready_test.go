package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

func TestReadyzTurnsUnavailableWhenTheStateClusterStopsAnswering(t *testing.T) {
	state := kafkatest.Cluster(t, "europe")
	a := startAgent(t, state.BootstrapString())
	readyz := func() int {
		resp, err := http.Get(a.url + "/readyz")
		if err != nil {
			t.Fatalf("GET /readyz: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz with the state cluster up: %d, want 200", code)
	}
	state.Close()
	kafkatest.Eventually(t, 40*time.Second, "/readyz answers 503", func() (bool, string) {
		code := readyz()
		return code == http.StatusServiceUnavailable, http.StatusText(code)
	})
	// The agent still stops promptly on SIGTERM with its cluster gone:
	// the cleanup fails the test if it takes more than 20s.
}
