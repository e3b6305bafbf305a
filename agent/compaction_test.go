package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// Compaction keeps only a policy's latest record, which an ordinary update
// written after a failover places after the failover's ops. An agent that
// restarts and replays the compacted state topic must still see the
// failover: the lost cluster must not come back as the active one.
func TestAFailoverSurvivesCompactionOfTheStateTopicAndARestart(t *testing.T) {
	devOnly(t, "it compacts europe's state topic at the moment it chooses; Apache Kafka's cleaner runs on its own schedule and never touches the active segment")
	s := newFailoverSetup(t, agentapi.FencingNone, 1)
	s.na.Kill()
	if code, res, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "lose-na"}); code != 200 || res.Epoch != 1 {
		t.Fatalf("forced failover: HTTP %d %+v %+v", code, res, e.Error)
	}
	s.agent.mustPut("/v1/policies/loosehanger", agentapi.Policy{
		Clusters: []string{"north-america", "europe"}, Primary: "north-america",
		Mirrors: []string{"na-to-eu"}, Fencing: agentapi.FencingNone, DrainTimeout: "30s",
		MaxLagRecords: 5000,
	})
	s.agent.mustPut("/v1/clusters/spare", agentapi.Cluster{BootstrapServers: s.eu.Bootstrap()})

	s.devEU(t).Compact()
	// The test proves something only if compaction left the policy's one
	// record after the failover's ops.
	var keys []string
	policyAt, lastOpAt := -1, -1
	for i, r := range kafkatest.ReadAll(t, s.eu.Bootstrap(), store.StateTopic)[0] {
		k := string(r.Key)
		keys = append(keys, k)
		switch {
		case k == "policy/loosehanger":
			if policyAt >= 0 {
				t.Fatalf("compaction kept two records of the policy: %v", keys)
			}
			policyAt = i
		case strings.HasPrefix(k, "failover/loosehanger/"):
			lastOpAt = i
		}
	}
	if lastOpAt < 0 || policyAt < lastOpAt {
		t.Fatalf("after compaction the policy record is not after the failover ops: %v", keys)
	}

	s.agent.kill9()
	s.agent.start()
	var active agentapi.Active
	s.agent.call("GET", "/v1/policies/loosehanger/active", nil, &active)
	if active.Cluster != "europe" || active.Epoch != 1 || fmt.Sprint(active.BootstrapServers) != fmt.Sprint(s.eu.Bootstrap()) {
		t.Fatalf("discovery after compaction and a restart: %+v, want europe at epoch 1", active)
	}
	var p agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
	if fmt.Sprint(p.Diverged) != "[north-america]" || p.LastFailover == nil || p.LastFailover.RequestID != "lose-na" || p.MaxLagRecords != 5000 {
		t.Fatalf("policy after compaction and a restart: diverged %v, last failover %+v, max_lag_records %d", p.Diverged, p.LastFailover, p.MaxLagRecords)
	}
	kafkatest.Eventually(t, 15*time.Second, "the mirror from the lost cluster stays stopped after the restart", func() (bool, string) {
		st := s.agent.status("na-to-eu")
		return st.State == agentapi.MirrorStopped, fmt.Sprintf("%s (%s)", st.State, st.Reason)
	})
}
