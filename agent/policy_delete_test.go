package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// After a forced failover the policy is the only record that the lost
// cluster may hold records that never reached the new active one. Deleting
// it would forget them, and a policy created again would take the cluster
// for a clean standby: the agent refuses unless told to forget.
func TestDeletingAPolicyWithADivergedClusterIsRefusedUnlessToldToForget(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 1)
	kafkatest.CreateTopic(t, s.na.Bootstrap(), "LH.ORDERS", 3, nil)
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 3, 50)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 3, 50)

	s.na.Kill()
	if code, _, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "lose-na"}); code != 200 {
		t.Fatalf("forced failover: HTTP %d %+v", code, e.Error)
	}

	var e agentapi.Error
	if code := s.agent.call("DELETE", "/v1/policies/loosehanger", nil, &e); code != 409 || e.Error.Code != agentapi.CodeDiverged {
		t.Fatalf("DELETE with north-america diverged: HTTP %d %+v, want 409", code, e.Error)
	}
	for _, want := range []string{"north-america", "/v1/policies/loosehanger/reverse", "forget_diverged=true"} {
		if !strings.Contains(e.Error.Message, want) {
			t.Fatalf("refusal %q does not say %q", e.Error.Message, want)
		}
	}
	var p agentapi.Policy
	if code := s.agent.call("GET", "/v1/policies/loosehanger", nil, &p); code != 200 || p.Active != "europe" || len(p.Diverged) != 1 {
		t.Fatalf("after the refusal: HTTP %d %+v, want the policy unchanged", code, p)
	}

	if code := s.agent.call("DELETE", "/v1/policies/loosehanger?forget_diverged=true", nil, nil); code != 204 {
		t.Fatalf("DELETE ?forget_diverged=true: HTTP %d, want 204", code)
	}
	if code := s.agent.call("GET", "/v1/policies/loosehanger", nil, nil); code != 404 {
		t.Fatalf("GET after the delete: HTTP %d, want 404", code)
	}

	// Forgotten is not forgiven: if north-america comes back after all,
	// its divergent records must not be copied into europe's topics. Its
	// mirrors stay stopped until the cluster is deleted and declared again.
	s.na.Restart()
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 3, 0) // connectivity
	na := kafkatest.NewProducer(t, s.na.Bootstrap())
	na.Produce(t, "LH.ORDERS", 3, 20)
	time.Sleep(3 * time.Second) // three refresh intervals of the mirror
	if st := s.agent.status("na-to-eu"); st.State != agentapi.MirrorStopped || !strings.Contains(st.Reason, "forget_diverged") {
		t.Fatalf("mirror from the forgotten cluster: %q (%s), want stopped saying why", st.State, st.Reason)
	}
	if got := partitionCounts(t, s.eu, "LH.ORDERS"); got[0]+got[1]+got[2] != 150 {
		t.Fatalf("europe holds %v records of LH.ORDERS, want the 150 mirrored before the loss", got)
	}

	// Deleted and declared again, it is a new cluster: the mirror runs.
	if code := s.agent.call("DELETE", "/v1/mirrors/na-to-eu", nil, nil); code != 204 {
		t.Fatalf("DELETE the mirror: HTTP %d", code)
	}
	if code := s.agent.call("DELETE", "/v1/clusters/north-america", nil, nil); code != 204 {
		t.Fatalf("DELETE the cluster: HTTP %d", code)
	}
	s.agent.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: s.na.Bootstrap()})
	s.agent.mustPut("/v1/mirrors/na-to-eu-2", agentapi.Mirror{
		Source: "north-america", Target: "europe", ReplicationPolicy: agentapi.ReplicationPrefix,
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s", TasksMax: 1,
	})
	kafkatest.Eventually(t, 30*time.Second, "north-america mirrored again, as a new cluster", func() (bool, string) {
		got := partitionCounts(t, s.eu, "north-america.LH.ORDERS")
		return got[0]+got[1]+got[2] == 210, fmt.Sprint(got)
	})
}
