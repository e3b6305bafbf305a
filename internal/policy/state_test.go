package policy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

var gen = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func begin(id, from, to string, epoch int64, nonce string) Op {
	return Op{Kind: OpBegin, Policy: "p", Generation: gen, Nonce: nonce, RequestID: id,
		Run: &agentapi.FailoverRun{RequestID: id, From: from, To: to, Mode: agentapi.ModeForced, FromEpoch: epoch}}
}

func finish(kind, id, nonce string) Op {
	return Op{Kind: kind, Policy: "p", Generation: gen, Nonce: nonce, RequestID: id, Result: &agentapi.Failover{RequestID: id}}
}

func TestTwoConcurrentFailoversFlipOnce(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen)
	// Two replicas both read epoch 0 and write a begin; the log orders them.
	if !m.Apply(begin("r1", "na", "eu", 0, "n1")) {
		t.Fatal("the first begin was refused")
	}
	if m.Apply(begin("r2", "na", "eu", 0, "n2")) {
		t.Fatal("a second begin applied while a failover is under way")
	}
	if !m.Apply(finish(OpComplete, "r1", "n3")) {
		t.Fatal("complete of the running failover was refused")
	}
	if m.Apply(finish(OpComplete, "r2", "n4")) {
		t.Fatal("the loser's complete applied")
	}
	st, _ := m.State("p")
	if st.Active != "eu" || st.Epoch != 1 {
		t.Fatalf("after one flip: active %s epoch %d, want eu 1", st.Active, st.Epoch)
	}
	if applied, seen := m.Applied("n2"); !seen || applied {
		t.Fatalf("the loser cannot tell it lost: applied %v seen %v", applied, seen)
	}
}

func TestAStaleEpochOrAWrongFromIsRefused(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen)
	if m.Apply(begin("r1", "na", "eu", 3, "")) {
		t.Fatal("begin from epoch 3 applied at epoch 0")
	}
	if m.Apply(begin("r1", "eu", "na", 0, "")) {
		t.Fatal("begin from eu applied while na is active")
	}
}

func TestACompletedRequestIDNeverFlipsAgainButAnAbortedOneMayRetry(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen)
	m.Apply(begin("r1", "na", "eu", 0, ""))
	m.Apply(finish(OpAbort, "r1", ""))
	st, _ := m.State("p")
	if st.Active != "na" || st.Epoch != 0 || st.InProgress != nil || st.Results["r1"].Outcome != agentapi.OutcomeAborted {
		t.Fatalf("abort is not clean: %+v", st)
	}
	if !m.Apply(begin("r1", "na", "eu", 0, "")) {
		t.Fatal("an aborted request id could not be retried")
	}
	m.Apply(finish(OpComplete, "r1", ""))
	m.Apply(begin("r2", "eu", "na", 1, ""))
	m.Apply(finish(OpComplete, "r2", ""))
	if m.Apply(begin("r1", "na", "eu", 2, "")) {
		t.Fatal("a completed request id flipped a second time")
	}
}

func TestMirrorsFreezeDuringAFailoverAndStayStoppedAfterTheFlip(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen)
	of := func(string) []string { return []string{"p"} }
	if frozen, _ := m.Frozen("na-to-eu", "na", "eu", of); frozen {
		t.Fatal("mirror from the active cluster is frozen before any failover")
	}
	m.Apply(begin("r1", "na", "eu", 0, ""))
	if frozen, _ := m.Frozen("na-to-eu", "na", "eu", of); frozen {
		t.Fatal("begin alone froze the mirror: a planned failover drains through it")
	}
	m.Apply(Op{Kind: OpFreeze, Policy: "p", Generation: gen, RequestID: "r1"})
	if frozen, _ := m.Frozen("na-to-eu", "na", "eu", of); !frozen {
		t.Fatal("freeze did not stop the mirror")
	}
	m.Apply(finish(OpComplete, "r1", ""))
	if frozen, why := m.Frozen("na-to-eu", "na", "eu", of); !frozen {
		t.Fatal("the mirror from the old active runs after the flip")
	} else if why == "" {
		t.Fatal("no reason given")
	}
}

func TestOpsOfAnEarlierPolicyWithTheSameNameAreIgnored(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen.Add(time.Hour)) // recreated
	if m.Apply(begin("r1", "na", "eu", 0, "")) {
		t.Fatal("an op of the earlier generation applied")
	}
}

func TestAClusterLeftBehindByAForcedFailoverReceivesNoMirrorAndNoFailoverBack(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen)
	of := func(string) []string { return []string{"p"} }
	m.Apply(begin("r1", "na", "eu", 0, "")) // forced
	m.Apply(finish(OpComplete, "r1", ""))
	if frozen, why := m.Frozen("eu-to-na", "eu", "na", of); !frozen || why == "" {
		t.Fatal("a mirror into the cluster left behind by a forced failover may run")
	}
	if m.Apply(begin("r2", "eu", "na", 1, "")) {
		t.Fatal("a failover back to a diverged cluster applied")
	}
	st, _ := m.State("p")
	if st.Diverged["na"] != 1 {
		t.Fatalf("na is not marked diverged by the failover to epoch 1: %+v", st.Diverged)
	}
}

func TestADivergedClusterIsQuarantinedOnceThenRebuiltAsAStandby(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen)
	m.Apply(begin("r1", "na", "eu", 0, "")) // forced
	m.Apply(finish(OpComplete, "r1", ""))
	q := &agentapi.Quarantine{Cluster: "na", Active: "eu", RequestID: "back", DivergedEpoch: 1, Records: 7}
	rebuilt := Op{Kind: OpRebuilt, Policy: "p", Generation: gen, RequestID: "back", Quarantine: q}
	if m.Apply(rebuilt) {
		t.Fatal("a cluster was rebuilt before its tail was quarantined")
	}
	if !m.Apply(Op{Kind: OpQuarantine, Policy: "p", Generation: gen, RequestID: "back", Quarantine: q}) {
		t.Fatal("the quarantine was refused")
	}
	if m.Apply(Op{Kind: OpQuarantine, Policy: "p", Generation: gen, RequestID: "again", Quarantine: q}) {
		t.Fatal("a tail was quarantined twice")
	}
	if !m.Apply(rebuilt) {
		t.Fatal("the rebuild was refused")
	}
	of := func(string) []string { return []string{"p"} }
	if frozen, why := m.Frozen("eu-to-na", "eu", "na", of); frozen {
		t.Fatalf("the mirror into the rebuilt cluster is still frozen: %s", why)
	}
	if !m.Apply(begin("r2", "eu", "na", 1, "")) {
		t.Fatal("a failover back to the rebuilt cluster was refused")
	}
}

func quarantineOp(kind, id, cluster, active string, epoch int64) Op {
	return Op{Kind: kind, Policy: "p", Generation: gen, RequestID: id,
		Quarantine: &agentapi.Quarantine{Cluster: cluster, Active: active, RequestID: id, DivergedEpoch: epoch}}
}

func planned(id, from, to string, epoch int64) Op {
	op := begin(id, from, to, epoch, "")
	op.Run.Mode = agentapi.ModePlanned
	return op
}

// A cluster that diverges, is reconciled, becomes active again and is lost
// again has a second tail: it must be quarantined as such, not taken for
// the first one.
func TestEachDivergenceOfAClusterIsQuarantinedAndRebuiltOnItsOwn(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen)
	of := func(string) []string { return []string{"p"} }
	m.Apply(begin("lose-1", "na", "eu", 0, "")) // forced: epoch 1
	m.Apply(finish(OpComplete, "lose-1", ""))
	if !m.Apply(quarantineOp(OpQuarantine, "back-1", "na", "eu", 1)) || !m.Apply(quarantineOp(OpRebuilt, "back-1", "na", "eu", 1)) {
		t.Fatal("the first divergence was not quarantined and rebuilt")
	}
	m.Apply(planned("failback", "eu", "na", 1)) // epoch 2
	m.Apply(finish(OpComplete, "failback", ""))
	if st, _ := m.State("p"); len(st.Diverged) != 0 || st.Active != "na" {
		t.Fatalf("a planned failover made a cluster diverged: %+v", st)
	}
	m.Apply(begin("lose-2", "na", "eu", 2, "")) // forced: epoch 3
	m.Apply(finish(OpComplete, "lose-2", ""))

	st, _ := m.State("p")
	if st.Diverged["na"] != 3 {
		t.Fatalf("the second forced failover did not start a divergence of its own: %+v", st.Diverged)
	}
	if q, ok := st.Quarantine("na"); ok {
		t.Fatalf("the second divergence counts as quarantined by the first one's %+v", q)
	}
	if frozen, why := m.Frozen("eu-to-na", "eu", "na", of); !frozen || !strings.Contains(why, "/reverse quarantines them") {
		t.Fatalf("the mirror into na is frozen %v because %q; want it frozen until the new tail is quarantined", frozen, why)
	}
	if m.Apply(quarantineOp(OpRebuilt, "back-1", "na", "eu", 1)) {
		t.Fatal("the first divergence's rebuild, replayed, ended the second")
	}
	if m.Apply(quarantineOp(OpRebuilt, "back-2", "na", "eu", 3)) {
		t.Fatal("the second divergence was rebuilt before its tail was quarantined")
	}
	if m.Apply(quarantineOp(OpQuarantine, "back-1", "na", "eu", 1)) {
		t.Fatal("a quarantine of the first divergence applied to the second")
	}
	if !m.Apply(quarantineOp(OpQuarantine, "back-2", "na", "eu", 3)) {
		t.Fatal("the second tail's quarantine was refused")
	}
	if m.Apply(quarantineOp(OpQuarantine, "again", "na", "eu", 3)) {
		t.Fatal("the second tail was quarantined twice")
	}
	if frozen, why := m.Frozen("eu-to-na", "eu", "na", of); !frozen || !strings.Contains(why, "quarantined on eu") {
		t.Fatalf("the mirror into na is frozen %v because %q; want it frozen until na is rebuilt", frozen, why)
	}
	if !m.Apply(quarantineOp(OpRebuilt, "back-2", "na", "eu", 3)) {
		t.Fatal("the second rebuild was refused")
	}
	st, _ = m.State("p")
	if len(st.Diverged) != 0 || len(st.Quarantines) != 2 || st.Quarantines[0].DivergedEpoch != 1 || st.Quarantines[1].DivergedEpoch != 3 ||
		st.Quarantines[0].RequestID != "back-1" || st.Quarantines[1].RequestID != "back-2" {
		t.Fatalf("after two divergences: diverged %v, quarantines %+v; want none diverged and both quarantines, epochs 1 and 3", st.Diverged, st.Quarantines)
	}
	if frozen, why := m.Frozen("eu-to-na", "eu", "na", of); frozen {
		t.Fatalf("the mirror into the rebuilt na is frozen: %s", why)
	}
}

// Ops stored by an agent that knew one divergence per cluster (no epoch in
// their quarantine) replay to the state they made then.
func TestOpsWithoutADivergenceEpochReplayAsTheyAppliedWhenWritten(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen)
	m.Apply(begin("lose-1", "na", "eu", 0, ""))
	m.Apply(finish(OpComplete, "lose-1", ""))
	if !m.Apply(quarantineOp(OpQuarantine, "back-1", "na", "eu", 0)) || m.Apply(quarantineOp(OpQuarantine, "dup", "na", "eu", 0)) {
		t.Fatal("a stored quarantine without an epoch did not apply once")
	}
	if !m.Apply(quarantineOp(OpRebuilt, "back-1", "na", "eu", 0)) {
		t.Fatal("a stored rebuild without an epoch was refused")
	}
	m.Apply(planned("failback", "eu", "na", 1))
	m.Apply(finish(OpComplete, "failback", ""))
	m.Apply(begin("lose-2", "na", "eu", 2, ""))
	m.Apply(finish(OpComplete, "lose-2", ""))
	// That agent took the second divergence for quarantined: it wrote no
	// quarantine, and its rebuild applied. Replayed, it still does: the
	// topics it records deleting were deleted.
	if m.Apply(quarantineOp(OpQuarantine, "back-2", "na", "eu", 0)) {
		t.Fatal("a second quarantine without an epoch applied; when written it did not")
	}
	if !m.Apply(quarantineOp(OpRebuilt, "back-2", "na", "eu", 0)) {
		t.Fatal("a stored rebuild without an epoch of the second divergence was refused; when written it applied")
	}
	st, _ := m.State("p")
	if len(st.Diverged) != 0 || len(st.Quarantines) != 1 || st.Quarantines[0].DivergedEpoch != 1 {
		t.Fatalf("replayed: diverged %v, quarantines %+v; want none diverged and the one quarantine, of epoch 1", st.Diverged, st.Quarantines)
	}
}

func TestACompletedPlannedFailoverLeavesItsFenceOnTheOldActiveUntilAFailoverBack(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen)
	// A begin op as agents wrote it before fences held a list of ACLs.
	var op Op
	if err := json.Unmarshal([]byte(`{"kind":"begin","policy":"p","generation":"2026-11-24T00:00:00Z","request_id":"r1",
		"run":{"request_id":"r1","from":"na","to":"eu","mode":"planned","from_epoch":0,
		"fence":{"cluster":"na","principal":"User:*","host":"*","topics":["LH.ORDERS"]}}}`), &op); err != nil {
		t.Fatal(err)
	}
	m.Apply(op)
	m.Apply(finish(OpComplete, "r1", ""))
	st, _ := m.State("p")
	want := []agentapi.FenceACL{{Principal: "User:*", Host: "*", Topics: []string{"LH.ORDERS"}}}
	if f, ok := st.Fences["na"]; !ok || !reflect.DeepEqual(f.Denied(), want) {
		t.Fatalf("the fence left on na: %+v (%v), want the ACLs %+v", f, ok, want)
	}
	back := begin("r2", "eu", "na", 1, "")
	back.Run.Mode = agentapi.ModePlanned
	back.Run.Fence = &agentapi.Fence{Cluster: "eu", ACLs: []agentapi.FenceACL{{Principal: "User:app", Host: "*", Topics: []string{"LH.ORDERS"}}}}
	m.Apply(back)
	if st, _ := m.State("p"); len(st.Fences) != 1 {
		t.Fatalf("a failover under way changed the fences left: %+v", st.Fences)
	}
	m.Apply(finish(OpComplete, "r2", ""))
	st, _ = m.State("p")
	if _, ok := st.Fences["na"]; ok || len(st.Fences["eu"].Denied()) != 1 || st.Fences["eu"].Denied()[0].Principal != "User:app" {
		t.Fatalf("after the failover back: %+v, want only eu's fence of User:app", st.Fences)
	}
}
