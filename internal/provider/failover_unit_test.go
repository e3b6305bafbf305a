package provider

import (
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// A retried apply of the same failover sends the same request id; the next
// failover (a later epoch) or another target sends a new one.
func TestFailoverRequestIDIsStablePerPolicyTargetAndEpoch(t *testing.T) {
	a := failoverRequestID("loosehanger", "europe", 0)
	if a != failoverRequestID("loosehanger", "europe", 0) {
		t.Fatal("not stable")
	}
	for _, other := range []string{failoverRequestID("loosehanger", "europe", 1), failoverRequestID("loosehanger", "north-america", 0), failoverRequestID("other", "europe", 0)} {
		if other == a {
			t.Fatalf("%q reused", a)
		}
	}
}

// The plan warning names the records at risk per partition, each group's
// records not mirrored, and says a planned failover would be refused now.
func TestForecastWarningSaysWhatIsAtRiskAndWhetherPlannedIsPossible(t *testing.T) {
	at := time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)
	fc := agentapi.Forecast{Policy: "lh", From: "north-america", To: "europe", Reason: "the mirrors lag by 42 records / 3s, over the policy's limits",
		Report: agentapi.FailoverReport{RecordsLost: 42,
			Partitions: []agentapi.PartitionLoss{{Topic: "LH.orders", Partition: 1, RecordsLost: 42}, {Topic: "LH.orders", Partition: 0}},
			Groups:     []agentapi.GroupResumption{{Group: "consumer-sa", RecordsNotMirrored: 7, CheckpointedAt: at}}}}
	summary, detail := forecastWarning(fc, agentapi.ModePlanned)
	if summary != "Failover Forecast: 42 Records At Risk" {
		t.Errorf("summary = %q", summary)
	}
	for _, want := range []string{
		"from north-america to europe (mode planned)",
		"records at risk (on north-america, not mirrored to europe): 42",
		"  - LH.orders[1]: 42\n",
		"group consumer-sa: 7 records read but not mirrored; re-reads what it consumed after 2026-11-24T20:00:00Z",
		"planned failover possible now: no (the mirrors lag by 42 records / 3s",
		`With mode = "planned" the agent will refuse this failover now`,
	} {
		if !strings.Contains(detail, want) {
			t.Errorf("warning lacks %q:\n%s", want, detail)
		}
	}
	if strings.Contains(detail, "LH.orders[0]") {
		t.Errorf("partition without loss listed:\n%s", detail)
	}
}
