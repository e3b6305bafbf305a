package main

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	a.waitMetrics(t, want...)
	if text, _ := a.metrics(); strings.Contains(text, "kfo_client_buffered_") {
		t.Errorf("kprom's one-client buffered_* gauges are on /metrics")
	}
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

// metrics answers the text of the agent's /metrics.
func (a *agentProc) metrics() (string, error) {
	req, _ := http.NewRequest("GET", a.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var text bytes.Buffer
	_, err = text.ReadFrom(resp.Body)
	return text.String(), err
}

// waitMetrics waits until /metrics holds every fragment.
func (a *agentProc) waitMetrics(t *testing.T, fragments ...string) {
	t.Helper()
	kafkatest.Eventually(t, 60*time.Second, fmt.Sprintf("/metrics shows %q", fragments), func() (bool, string) {
		text, err := a.metrics()
		if err != nil {
			return false, err.Error()
		}
		for _, f := range fragments {
			if !strings.Contains(text, f) {
				return false, "missing " + f
			}
		}
		return true, ""
	})
}

// /metrics says what GET /v1/policies and /readyz say, for the alerting
// rules of examples/monitoring: a standby's readiness and lag beside the
// policy's limits, and whether the state cluster answers.
func TestMetricsShowStandbyReadinessThePolicysLimitsAndTheStateCluster(t *testing.T) {
	t.Parallel()
	na := kafkatest.Cluster(t, "north-america")
	eu := kafkatest.Cluster(t, "europe")
	kafkatest.CreateTopic(t, na.Bootstrap(), "LH.ORDERS", 2, nil)
	a := startAgent(t, eu.BootstrapString())
	a.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: na.Bootstrap()})
	a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: eu.Bootstrap()})
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe", Topics: agentapi.Selector{Include: []string{"LH\\..*"}}, RefreshInterval: "1s"})
	a.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america",
		Mirrors: []string{"na-to-eu"}, Fencing: agentapi.FencingNone, MaxLagRecords: 500})
	a.waitMetrics(t,
		`kfo_policy_standby_ready{cluster="europe",policy="loosehanger"} 1`,
		`kfo_policy_standby_lag_records{cluster="europe",policy="loosehanger"} 0`,
		`kfo_policy_standby_lag_seconds{cluster="europe",policy="loosehanger"} 0`,
		`kfo_policy_max_lag_records{policy="loosehanger"} 500`,
		`kfo_policy_max_lag_seconds{policy="loosehanger"} 30`,
		"kfo_state_cluster_up 1")
	var p agentapi.Policy
	if a.call("GET", "/v1/policies/loosehanger", nil, &p); len(p.Standbys) != 1 || !p.Standbys[0].Ready {
		t.Errorf("GET /v1/policies/loosehanger standbys %+v, want europe ready as /metrics says", p.Standbys)
	}

	eu.Close()
	a.waitMetrics(t, "kfo_state_cluster_up 0")
}
