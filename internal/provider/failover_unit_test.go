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

// The plan's forecast lists the partitions at risk, worst first, with how
// fresh each figure is, and its warning says how many records are at risk,
// what the groups re-read, and that a planned failover would be refused now.
func TestForecastSaysWhatIsAtRiskAndWhetherPlannedIsPossible(t *testing.T) {
	at := time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)
	snap := forecastSnapshot{AsOf: at.Add(time.Second), From: "north-america", Fencing: agentapi.FencingACL}
	fc := standbyForecast{Reason: "the mirrors lag by 42 records / 3s, over the policy's limits",
		Report: compact(agentapi.FailoverReport{RecordsLost: 43,
			Partitions: []agentapi.PartitionLoss{
				{Topic: "LH.orders", Partition: 0, HighWatermarkObservedAt: at},
				{Topic: "LH.orders", Partition: 1, RecordsLost: 42, HighWatermarkObservedAt: at},
				{Topic: "LH.orders", Partition: 2, RecordsLost: 1, HighWatermarkObservedAt: at.Add(-time.Minute), LowerBound: true}},
			Groups: []agentapi.GroupResumption{{Group: "consumer-sa", RecordsNotMirrored: 7, CheckpointedAt: at}}})}
	summary, detail := forecastWarning(snap, "europe", agentapi.ModePlanned, fc)
	if summary != "Failover Forecast: 43 Records At Risk" {
		t.Errorf("summary = %q", summary)
	}
	for _, want := range []string{
		"from north-america to europe (mode planned). According to the agent at 2026-11-24T20:00:01Z, 43 records in 2 of 3 partitions are not mirrored yet",
		"1 checkpointed consumer group would re-read 0 records they had committed; a planned failover is not possible now.",
		`With mode = "planned" the agent will refuse this failover now: wait until the partitions at risk have caught up with europe`,
	} {
		if !strings.Contains(detail, want) {
			t.Errorf("forecast lacks %q:\n%s", want, detail)
		}
	}
	if l := fc.Report.Listed; len(l) != 2 || l[0].Partition != 1 || l[1].Partition != 2 || !l[1].LowerBound {
		t.Errorf("listed partitions = %+v, want 1 then 2 (a lower bound)", l)
	}
	if one, _ := forecastWarning(snap, "europe", agentapi.ModePlanned, standbyForecast{Report: compactReport{RecordsLost: 1}}); one != "Failover Forecast: 1 Record At Risk" {
		t.Errorf("summary of one record = %q", one)
	}
}

// With fencing = "none" the forecast never says writes are fenced: it says
// the producers must be stopped, in a planned failover and a forced one.
func TestForecastWithoutFencingSaysToStopTheProducers(t *testing.T) {
	snap := forecastSnapshot{AsOf: time.Now(), From: "north-america", Fencing: agentapi.FencingNone}
	ready := standbyForecast{PlannedPossible: true, Reason: "a planned failover now would drain the mirrors"}
	_, planned := forecastWarning(snap, "europe", agentapi.ModePlanned, ready)
	_, forced := forecastWarning(snap, "europe", agentapi.ModeForced, ready)
	for text, want := range map[string]string{planned: "stop its producers before applying", forced: "producers still writing to it write records that are never mirrored; stop them"} {
		if !strings.Contains(text, want) || strings.Contains(text, "are fenced") {
			t.Errorf("forecast with fencing none lacks %q or claims fencing:\n%s", want, text)
		}
	}
	snap.Fencing = agentapi.FencingACL
	if _, text := forecastWarning(snap, "europe", agentapi.ModePlanned, ready); !strings.Contains(text, "writes to north-america are fenced") {
		t.Errorf("forecast with ACL fencing:\n%s", text)
	}
}

// A report or forecast over 1,000 partitions lists the worst few, most
// records first, and counts them all: the plan of a failover stays short.
func TestCompactReportListsTheWorstPartitionsAndCountsAll(t *testing.T) {
	var rep agentapi.FailoverReport
	for p := range int32(1000) {
		loss := agentapi.PartitionLoss{Topic: "LH.orders", Partition: p}
		if p%2 == 1 {
			loss.RecordsLost = int64(p)
		}
		rep.Partitions = append(rep.Partitions, loss)
		rep.RecordsLost += loss.RecordsLost
	}
	c := compact(rep)
	if c.Partitions != 1000 || c.PartitionsAtRisk != 500 || len(c.Listed) != listedPartitions || c.RecordsLost != rep.RecordsLost {
		t.Fatalf("compact = %d partitions, %d at risk, %d listed, %d lost", c.Partitions, c.PartitionsAtRisk, len(c.Listed), c.RecordsLost)
	}
	if c.Listed[0].Partition != 999 || c.Listed[listedPartitions-1].Partition != 995 {
		t.Errorf("listed %d .. %d, want the worst: 999 .. 995", c.Listed[0].Partition, c.Listed[listedPartitions-1].Partition)
	}
}
