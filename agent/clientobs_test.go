package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// franz-go's own log lines and client metrics reach the agent's log and
// /metrics, per cluster; its info chatter does not, and neither does a
// SASL password that a broker refused.
func TestFranzGoLogsAndClientMetricsReachTheAgentsLogAndMetrics(t *testing.T) {
	t.Parallel()
	state := kafkatest.Cluster(t, "europe")
	secure := kafkatest.NewCluster(t, "north-america", kafkatest.ClusterOptions{Secure: true})
	a := startAgent(t, state.BootstrapString())
	a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: state.Bootstrap()})

	// Nothing listens at gone's address; wrong-password's broker refuses
	// the password. Mirrors from both make the agent's clients try them.
	a.mustPut("/v1/clusters/gone", agentapi.Cluster{BootstrapServers: []string{kafkatest.FreeAddr(t)}})
	const password = "not-the-password-5c1e9a"
	wrong := secure.Declared()
	wrong.Name, wrong.SASL.Password = "wrong-password", password
	a.mustPut("/v1/clusters/wrong-password", wrong)
	for _, src := range []string{"gone", "wrong-password"} {
		a.call("PUT", "/v1/mirrors/from-"+src, agentapi.Mirror{Source: src, Target: "europe", Topics: agentapi.Selector{Include: []string{"orders"}}, RefreshInterval: "1s"}, nil)
	}

	a.waitLogged(t, 60*time.Second, `"component":"franz-go"`, `"cluster":"gone"`, `"level":"WARN"`, "unable to open connection to broker", "connection refused")
	want := []string{
		`kfo_client_connects_total{cluster="state",node_id=`,
		`kfo_client_read_bytes_total{cluster="state",node_id=`,
		`kfo_client_connect_errors_total{cluster="gone",node_id="seed_0"}`,
	}
	kafkatest.Eventually(t, 60*time.Second, "/metrics shows the clients' series", func() (bool, string) {
		req, _ := http.NewRequest("GET", a.url+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var text bytes.Buffer
		_, _ = text.ReadFrom(resp.Body)
		for _, w := range want {
			if !strings.Contains(text.String(), w) {
				return false, "missing " + w
			}
		}
		if strings.Contains(text.String(), "kfo_client_buffered_") {
			return false, "kprom's one-client buffered_* gauges are there"
		}
		return true, ""
	})
	// The agent has tried the refused password by now.
	a.waitLogged(t, 60*time.Second, `"mirror":"from-wrong-password"`, "list topics on source wrong-password")

	logs, err := os.ReadFile(a.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(logs, []byte(password)) {
		t.Errorf("the agent's log holds the SASL password")
	}
	for line := range bytes.Lines(logs) {
		var rec struct{ Level, Component, Msg string }
		if json.Unmarshal(line, &rec) != nil || rec.Component != "franz-go" {
			continue
		}
		if rec.Level != "WARN" && rec.Level != "ERROR" {
			t.Errorf("a franz-go line below WARN reached the log: %s", line)
		}
	}
}
