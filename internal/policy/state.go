// Package policy is the failover policy state machine: which cluster is
// active, the epoch, and the failover under way. Every agent replica replays
// the same ops from the state topic through the same rules, so the topic
// decides what happened and all replicas agree.
package policy

import (
	"maps"
	"slices"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// Op kinds, in the order a failover writes them.
const (
	OpBegin    = "begin"    // a failover starts (refused if one is under way or the epoch moved)
	OpFreeze   = "freeze"   // the policy's mirrors stop
	OpComplete = "complete" // the flip: new active, epoch + 1, report
	OpAbort    = "abort"    // the failover is cleanly not done
	// OpQuarantine: a diverged cluster's tail is copied to the active one.
	OpQuarantine = "quarantine"
	// OpRebuilt: a quarantined cluster's mirrored topics were deleted; it
	// is a standby again and the mirrors into it copy the active cluster.
	OpRebuilt = "rebuilt"
)

// Op is one failover step. Ops are written under unique keys so that
// compaction keeps them all, and every replica replays them in the state
// topic's order through the same rules: the topic decides what happened.
type Op struct {
	Kind   string `json:"kind"`
	Policy string `json:"policy"`
	// Generation is the policy's created_at: ops of an earlier policy with
	// the same name are ignored.
	Generation time.Time             `json:"generation"`
	Nonce      string                `json:"nonce"` // tells the writer whether its op applied
	Run        *agentapi.FailoverRun `json:"run,omitempty"`
	RequestID  string                `json:"request_id"`
	Result     *agentapi.Failover    `json:"result,omitempty"`
	Quarantine *agentapi.Quarantine  `json:"quarantine,omitempty"`
}

// State is a policy's live state.
type State struct {
	Generation time.Time
	Active     string
	Epoch      int64
	InProgress *agentapi.FailoverRun
	Last       *agentapi.Failover
	// Results of finished requests by request id: a repeated request
	// answers the first result.
	Results map[string]agentapi.Failover
	// Diverged holds clusters left behind by a forced failover, each with
	// the epoch that failover made: the divergence's identity. They may hold
	// records that were never mirrored, so nothing is mirrored into them and
	// no failover goes back to them until that tail is reconciled.
	Diverged map[string]int64
	// Quarantines are the divergent tails quarantined so far, in the order
	// the log applied them: at most one per divergence, and a cluster that
	// diverges again gets a new one.
	Quarantines []agentapi.Quarantine
	// Fences are the fences completed planned failovers left on the
	// clusters they moved away from, by cluster: a failover back lifts
	// exactly these.
	Fences map[string]agentapi.Fence
}

// Quarantine answers the quarantine of cluster's current divergence, if its
// tail was quarantined: one of an earlier divergence does not count.
func (st *State) Quarantine(cluster string) (agentapi.Quarantine, bool) {
	epoch, diverged := st.Diverged[cluster]
	if !diverged {
		return agentapi.Quarantine{}, false
	}
	for _, q := range st.Quarantines {
		if q.Cluster == cluster && q.DivergedEpoch == epoch {
			return q, true
		}
	}
	return agentapi.Quarantine{}, false
}

// LastQuarantine answers the latest quarantine of cluster, of any divergence.
func (st *State) LastQuarantine(cluster string) (agentapi.Quarantine, bool) {
	for i := len(st.Quarantines) - 1; i >= 0; i-- {
		if st.Quarantines[i].Cluster == cluster {
			return st.Quarantines[i], true
		}
	}
	return agentapi.Quarantine{}, false
}

// Machine holds the state of every policy; the store feeds it the state
// topic's records in order. The topic is compacted, which keeps only a
// policy's latest record and may leave it after ops written under an
// earlier one of the same generation: a policy's state is therefore its
// generation's ops replayed from its primary, whatever the order of the
// policy's records and its ops. Ops have unique keys in one partition, so
// compaction removes none and keeps their order.
type Machine struct {
	policies map[string]*State
	stored   map[string]generation // of each policy's latest record
	ops      map[string][]Op       // by policy name, every generation, in log order
	applied  map[string]bool       // nonce -> whether the op applied
}

// generation is what a policy's state starts from.
type generation struct {
	primary string
	created time.Time
}

// NewMachine answers an empty machine.
func NewMachine() *Machine {
	return &Machine{policies: map[string]*State{}, stored: map[string]generation{}, ops: map[string][]Op{}, applied: map[string]bool{}}
}

// PolicyStored sets a policy's state to its generation's ops replayed from
// its primary; an update of the same generation keeps the state.
func (m *Machine) PolicyStored(name, primary string, created time.Time) {
	g := generation{primary: primary, created: created}
	if prev, ok := m.stored[name]; ok && prev.primary == primary && prev.created.Equal(created) {
		return
	}
	m.stored[name] = g
	st := &State{Generation: created, Active: primary, Results: map[string]agentapi.Failover{}, Diverged: map[string]int64{}, Fences: map[string]agentapi.Fence{}}
	m.policies[name] = st
	for _, op := range m.ops[name] {
		if op.Generation.Equal(created) {
			m.remember(op, st.apply(op))
		}
	}
}

// PolicyDeleted forgets a policy's state. Its ops stay: a record of the
// same generation written by a replica that had not read the delete brings
// the state back as it was, the same whether compaction removed the delete.
func (m *Machine) PolicyDeleted(name string) {
	delete(m.policies, name)
	delete(m.stored, name)
}

// NewGeneration answers the created_at of a policy created now under name:
// later than every generation the name's ops carry, so that the ops of a
// deleted policy never count for a new one, even one created in the same
// millisecond.
func (m *Machine) NewGeneration(name string, now time.Time) time.Time {
	created := now.UTC().Truncate(time.Millisecond)
	for _, op := range m.ops[name] {
		if !op.Generation.Before(created) {
			created = op.Generation.Add(time.Millisecond)
		}
	}
	return created
}

// Apply applies op if its rule holds, and remembers whether it did.
func (m *Machine) Apply(op Op) bool {
	m.ops[op.Policy] = append(m.ops[op.Policy], op)
	st, ok := m.policies[op.Policy]
	ok = ok && st.Generation.Equal(op.Generation) && st.apply(op)
	m.remember(op, ok)
	return ok
}

func (m *Machine) remember(op Op, applied bool) {
	if op.Nonce != "" {
		m.applied[op.Nonce] = applied
	}
}

// apply applies an op of the state's generation if its rule holds.
func (st *State) apply(op Op) bool {
	inProgress := func() bool { return st.InProgress != nil && st.InProgress.RequestID == op.RequestID }
	switch op.Kind {
	case OpBegin:
		r := op.Run
		if r == nil || st.InProgress != nil || st.Epoch != r.FromEpoch || st.Active != r.From || r.To == r.From {
			return false
		}
		if _, diverged := st.Diverged[r.To]; diverged {
			return false
		}
		if prev, done := st.Results[r.RequestID]; done && prev.Outcome == agentapi.OutcomeCompleted {
			return false
		}
		run := *r
		st.InProgress = &run
		return true
	case OpFreeze:
		if !inProgress() {
			return false
		}
		st.InProgress.Frozen = true
		return true
	case OpComplete:
		if !inProgress() || op.Result == nil {
			return false
		}
		res := *op.Result
		res.Epoch = st.InProgress.FromEpoch + 1
		res.Outcome = agentapi.OutcomeCompleted
		if st.InProgress.Mode == agentapi.ModeForced {
			// A new divergence, even of a cluster that diverged and was
			// rebuilt before: its tail is a new one, to be quarantined anew.
			st.Diverged[st.InProgress.From] = res.Epoch
		}
		delete(st.Fences, st.InProgress.To) // the failover lifted it
		if f := st.InProgress.Fence; f != nil {
			st.Fences[st.InProgress.From] = *f
		}
		st.Active, st.Epoch = st.InProgress.To, res.Epoch
		st.InProgress, st.Last = nil, &res
		st.Results[res.RequestID] = res
		return true
	case OpQuarantine:
		q := op.Quarantine
		if q == nil || st.InProgress != nil || q.Active != st.Active {
			return false
		}
		epoch, diverged := st.Diverged[q.Cluster]
		if !diverged {
			return false
		}
		if q.DivergedEpoch == 0 {
			// Written before divergences had an epoch, under a rule that
			// quarantined a cluster once, ever: replayed by that rule.
			if _, ever := st.LastQuarantine(q.Cluster); ever {
				return false
			}
		} else if q.DivergedEpoch != epoch {
			return false // a quarantine of an earlier divergence
		}
		if _, done := st.Quarantine(q.Cluster); done {
			return false
		}
		rec := *q
		rec.DivergedEpoch = epoch
		st.Quarantines = append(st.Quarantines, rec)
		return true
	case OpRebuilt:
		q := op.Quarantine
		if q == nil || st.InProgress != nil {
			return false
		}
		epoch, diverged := st.Diverged[q.Cluster]
		if !diverged {
			return false
		}
		if q.DivergedEpoch == 0 {
			// Written before divergences had an epoch, under a rule that took
			// any quarantine of the cluster: replayed by it, because the
			// rebuild it records did delete the cluster's topics.
			if _, ever := st.LastQuarantine(q.Cluster); !ever {
				return false
			}
		} else if _, done := st.Quarantine(q.Cluster); !done || q.DivergedEpoch != epoch {
			return false
		}
		delete(st.Diverged, q.Cluster)
		return true
	case OpAbort:
		if !inProgress() || op.Result == nil {
			return false
		}
		res := *op.Result
		res.Epoch = st.Epoch
		res.Outcome = agentapi.OutcomeAborted
		st.InProgress, st.Last = nil, &res
		st.Results[res.RequestID] = res
		return true
	}
	return false
}

// Applied answers whether the op with nonce applied, once it has been read.
func (m *Machine) Applied(nonce string) (applied, seen bool) {
	applied, seen = m.applied[nonce]
	return applied, seen
}

// State answers a copy of a policy's state.
func (m *Machine) State(name string) (State, bool) {
	st, ok := m.policies[name]
	if !ok {
		return State{}, false
	}
	cp := *st
	if st.InProgress != nil {
		run := *st.InProgress
		cp.InProgress = &run
	}
	cp.Results = make(map[string]agentapi.Failover, len(st.Results))
	for k, v := range st.Results {
		cp.Results[k] = v
	}
	cp.Diverged = maps.Clone(st.Diverged)
	cp.Quarantines = slices.Clone(st.Quarantines)
	cp.Fences = maps.Clone(st.Fences)
	return cp, true
}

// Frozen reports whether a mirror must stop: a policy lists it and either
// its source is no longer the active cluster, a failover froze it, or its
// target was left behind by a forced failover.
func (m *Machine) Frozen(mirror, source, target string, policiesOf func(mirror string) []string) (bool, string) {
	for _, p := range policiesOf(mirror) {
		st, ok := m.policies[p]
		if !ok {
			continue
		}
		if _, diverged := st.Diverged[target]; diverged {
			if _, ok := st.Quarantine(target); ok {
				return true, target + " was left behind by a forced failover of policy " + p + "; its divergent tail is quarantined on " + st.Active + ", and its topics must be rebuilt before anything is mirrored into it"
			}
			return true, target + " was left behind by a forced failover of policy " + p + " and may hold records that were never mirrored: POST /v1/policies/" + p + "/reverse quarantines them"
		}
		if st.Active != source {
			return true, "policy " + p + " made " + st.Active + " active; this mirror copies from " + source
		}
		if st.InProgress != nil && st.InProgress.Frozen {
			return true, "a failover of policy " + p + " is under way"
		}
	}
	return false, ""
}
