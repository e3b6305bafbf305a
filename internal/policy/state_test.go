package policy

import (
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
	if !st.Diverged["na"] {
		t.Fatalf("na is not marked diverged: %+v", st.Diverged)
	}
}

func TestADivergedClusterIsQuarantinedOnceThenRebuiltAsAStandby(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen)
	m.Apply(begin("r1", "na", "eu", 0, "")) // forced
	m.Apply(finish(OpComplete, "r1", ""))
	q := &agentapi.Quarantine{Cluster: "na", Active: "eu", RequestID: "back", Records: 7}
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
