package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// A mirror whose selection matches no topic on the source yet (the
// application has not created LH.* there) has checked the source and has
// nothing to copy: a DR user expects it running with zero partitions, its
// standby ready with no alert firing, and a planned failover to go through,
// not a mirror "starting" forever.
func TestAMirrorWhoseSelectionMatchesNoTopicRunsAndItsStandbyIsReady(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 1)
	start := time.Now()
	kafkatest.Eventually(t, 30*time.Second, "the empty mirror is running", func() (bool, string) {
		st := s.agent.status("na-to-eu")
		return st.State == agentapi.MirrorRunning && len(st.Partitions) == 0 && st.PartitionsNotCopying == 0,
			fmt.Sprintf("%s, %d partitions, %d not copying: %s", st.State, len(st.Partitions), st.PartitionsNotCopying, st.Reason)
	})
	t.Logf("running with no partition %s after the policy was declared", time.Since(start).Round(time.Millisecond))
	s.agent.waitMetrics(t,
		`kfo_policy_standby_ready{cluster="europe",policy="loosehanger"} 1`,
		`kfo_mirror_partitions_not_copying{mirror="na-to-eu"} 0`)
	var p agentapi.Policy
	if s.agent.call("GET", "/v1/policies/loosehanger", nil, &p); len(p.Standbys) != 1 || !p.Standbys[0].Ready {
		t.Fatalf("GET /v1/policies/loosehanger standbys %+v, want europe ready", p.Standbys)
	}

	code, res, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: "empty-mirror-1"})
	if code != 200 || res.Outcome != agentapi.OutcomeCompleted || res.Epoch != 1 {
		t.Fatalf("planned failover: HTTP %d %+v %+v", code, res, e)
	}
	if res.Report == nil || res.Report.RecordsLost != 0 {
		t.Fatalf("planned failover lost records: %+v", res.Report)
	}
}
