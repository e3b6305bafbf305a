package policy

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// logRecord is one record of the state topic as the machine sees it: a
// policy's record (put or tombstone) or a failover op under its own key.
type logRecord struct {
	key     string
	primary string
	gen     time.Time
	deleted bool
	op      *Op
	offset  int
}

func (r logRecord) feed(m *Machine) {
	switch {
	case r.op != nil:
		m.Apply(*r.op)
	case r.deleted:
		m.PolicyDeleted(r.key)
	default:
		m.PolicyStored(r.key, r.primary, r.gen)
	}
}

func replay(log []logRecord) *Machine {
	m := NewMachine()
	for _, r := range log {
		r.feed(m)
	}
	return m
}

// compact applies Kafka's rule to what is left of the log when its first
// `written` records exist: below offset cleanTo a record goes if a later
// record then written has its key, and a tombstone may go too
// (delete.retention.ms passed). It never reorders what it keeps.
func compact(kept []logRecord, written, cleanTo int, rng *rand.Rand) []logRecord {
	last := map[string]int{}
	for _, r := range kept {
		if r.offset < written {
			last[r.key] = r.offset
		}
	}
	var out []logRecord
	for _, r := range kept {
		if r.offset < cleanTo && (last[r.key] > r.offset || (r.deleted && rng.IntN(2) == 0)) {
			continue
		}
		out = append(out, r)
	}
	return out
}

var replayClusters = []string{"na", "eu", "sa"}

// writer plays one agent replica writing to the state topic: it decides each
// record from its own state, as the API does, and applies it as it reads it.
type writer struct {
	rng  *rand.Rand
	m    *Machine
	log  []logRecord
	gens map[string][]time.Time // every generation each name had
	live map[string]logRecord   // the latest put of each stored policy
	n    int
}

func (w *writer) write(r logRecord) {
	r.offset = len(w.log)
	w.log = append(w.log, r)
	r.feed(w.m)
}

func (w *writer) writeOp(op Op) {
	w.n++
	op.Nonce = fmt.Sprint("n", w.n)
	w.write(logRecord{key: "failover/" + op.Policy + "/" + op.Nonce, op: &op})
}

func (w *writer) other(than string) string {
	for {
		if c := replayClusters[w.rng.IntN(len(replayClusters))]; c != than {
			return c
		}
	}
}

func (w *writer) step(name string) {
	w.n++
	p, stored := w.live[name]
	st, _ := w.m.State(name)
	gen := p.gen
	if olds := w.gens[name]; len(olds) > 0 && (!stored || w.rng.IntN(8) == 0) {
		gen = olds[w.rng.IntN(len(olds))] // from a replica that has not read the latest
	}
	id := fmt.Sprint("r", w.rng.IntN(4))
	switch k := w.rng.IntN(12); {
	case (!stored && w.rng.IntN(4) > 0) || k == 0:
		if stored && w.rng.IntN(2) == 0 {
			w.write(logRecord{key: name, deleted: true})
			delete(w.live, name)
			return
		}
		if olds := w.gens[name]; !stored && len(olds) > 0 && w.rng.IntN(4) == 0 {
			// A replica that had not read the delete updates the policy:
			// its record brings back the generation it knew.
			old := olds[len(olds)-1]
			p = logRecord{key: name, primary: w.primaryOf(name, old), gen: old}
		} else {
			p = logRecord{key: name, primary: replayClusters[w.rng.IntN(len(replayClusters))], gen: gen0.Add(time.Duration(w.n) * time.Millisecond)}
			w.gens[name] = append(w.gens[name], p.gen)
		}
		w.live[name] = p
		w.write(p)
	case k <= 2 && stored:
		w.write(p) // an ordinary update: same generation and primary
	case k <= 4:
		epoch := st.Epoch
		if w.rng.IntN(6) == 0 {
			epoch-- // stale
		}
		mode := agentapi.ModeForced
		if w.rng.IntN(2) == 0 {
			mode = agentapi.ModePlanned
		}
		w.writeOp(Op{Kind: OpBegin, Policy: name, Generation: gen, RequestID: id,
			Run: &agentapi.FailoverRun{RequestID: id, From: st.Active, To: w.other(st.Active), Mode: mode, FromEpoch: epoch}})
	case k <= 7:
		if st.InProgress != nil && w.rng.IntN(4) > 0 {
			id = st.InProgress.RequestID
		}
		kind := []string{OpFreeze, OpComplete, OpComplete, OpAbort}[w.rng.IntN(4)]
		w.writeOp(Op{Kind: kind, Policy: name, Generation: gen, RequestID: id,
			Result: &agentapi.Failover{RequestID: id, CompletedAt: gen0.Add(time.Duration(w.n) * time.Second)}})
	default:
		cluster := w.other(st.Active)
		epoch := st.Diverged[cluster]
		if w.rng.IntN(6) == 0 {
			epoch = int64(w.rng.IntN(3))
		}
		kind := OpQuarantine
		if w.rng.IntN(2) == 0 {
			kind = OpRebuilt
		}
		w.writeOp(Op{Kind: kind, Policy: name, Generation: gen, RequestID: id,
			Quarantine: &agentapi.Quarantine{Policy: name, Cluster: cluster, Active: st.Active, RequestID: id, DivergedEpoch: epoch, Records: int64(w.n)}})
	}
}

func (w *writer) primaryOf(name string, gen time.Time) string {
	for _, r := range slices.Backward(w.log) {
		if r.key == name && r.op == nil && !r.deleted && r.gen.Equal(gen) {
			return r.primary
		}
	}
	return "na"
}

var gen0 = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// Whatever compaction removes, a replica that replays the state topic
// reaches the state the writer reached: active cluster, epoch, the failover
// under way and the last one, divergences and quarantines.
func TestReplayAfterCompactionAtAnyPointReachesTheWritersState(t *testing.T) {
	names := []string{"p", "q"}
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 11))
		w := &writer{rng: rng, m: NewMachine(), gens: map[string][]time.Time{}, live: map[string]logRecord{}}
		var compactions [][2]int // (written, cleanTo) at the moment each ran
		for range 80 {
			w.step(names[rng.IntN(len(names))])
			if rng.IntN(10) == 0 {
				compactions = append(compactions, [2]int{len(w.log), rng.IntN(len(w.log) + 1)})
			}
		}
		compactions = append(compactions, [2]int{len(w.log), len(w.log) - 1})
		// Each compaction sees the records written by then and what earlier
		// ones left.
		kept := w.log
		for _, c := range compactions {
			kept = compact(kept, c[0], c[1], rng)
			m := replay(kept)
			for _, name := range names {
				want, wantOK := w.m.State(name)
				got, gotOK := m.State(name)
				if wantOK != gotOK || !reflect.DeepEqual(want, got) {
					t.Fatalf("seed %d, compaction of the first %d of %d records written: policy %s replayed from %d records:\n got %v %+v\nwant %v %+v",
						seed, c[1], c[0], name, len(kept), gotOK, summary(got), wantOK, summary(want))
				}
			}
		}
	}
}

func summary(st State) string {
	return fmt.Sprintf("gen %s active %s epoch %d in progress %+v last %+v diverged %v quarantines %d results %d",
		st.Generation.Format(time.StampMilli), st.Active, st.Epoch, st.InProgress, st.Last, st.Diverged, len(st.Quarantines), len(st.Results))
}

// The log after compaction: an update written after a forced
// failover is the policy's one record left, after the failover's ops.
func TestAFailoverCountsWhenThePolicysOnlyRecordComesAfterItsOps(t *testing.T) {
	m := NewMachine()
	m.Apply(begin("r1", "na", "eu", 0, "n1"))
	m.Apply(finish(OpComplete, "r1", "n2"))
	m.PolicyStored("p", "na", gen)
	st, _ := m.State("p")
	if st.Active != "eu" || st.Epoch != 1 || st.Diverged["na"] != 1 {
		t.Fatalf("active %s epoch %d diverged %v, want eu at epoch 1 with na diverged", st.Active, st.Epoch, st.Diverged)
	}
	if applied, _ := m.Applied("n2"); !applied {
		t.Fatal("the flip is not recorded as applied")
	}
}

// Compaction may remove a deleted policy's records, tombstone included:
// its ops are left alone and must count for no policy created later.
func TestOpsOfADeletedPolicyCountForNoPolicyCreatedLaterEvenInTheSameMillisecond(t *testing.T) {
	m := NewMachine()
	m.PolicyStored("p", "na", gen)
	m.Apply(begin("r1", "na", "eu", 0, ""))
	m.Apply(finish(OpComplete, "r1", ""))
	m.PolicyDeleted("p")
	if _, ok := m.State("p"); ok {
		t.Fatal("a deleted policy has a state")
	}
	again := m.NewGeneration("p", gen.Add(500*time.Microsecond))
	if !again.After(gen) {
		t.Fatalf("created again in the same millisecond: generation %s, want after %s", again, gen)
	}
	m.PolicyStored("p", "na", again)
	if st, _ := m.State("p"); st.Active != "na" || st.Epoch != 0 || len(st.Diverged) != 0 || st.Last != nil {
		t.Fatalf("the new policy inherited the old one's failover: %s", summary(st))
	}
}
