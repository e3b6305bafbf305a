package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/policy"
)

var replayClusters = []string{"na", "eu", "sa"}

// stateWriter drives one agent replica through the store's API with random
// but well-formed requests, as the HTTP handlers and the failover executor
// would.
type stateWriter struct {
	t   *testing.T
	ctx context.Context
	rng *rand.Rand
	s   *Store
}

func (w *stateWriter) pick(from []string) string { return from[w.rng.IntN(len(from))] }

func (w *stateWriter) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *stateWriter) step(name string) {
	w.t.Helper()
	p, err := w.s.GetPolicy(name)
	stored := err == nil
	st, _ := w.s.PolicyState(name)
	id := fmt.Sprint("r", w.rng.IntN(3))
	op := policy.Op{Policy: name, Generation: p.CreatedAt, RequestID: id}
	switch k := w.rng.IntN(14); {
	case k == 0:
		_, _, err := w.s.PutCluster(w.ctx, agentapi.Cluster{Name: w.pick(append(replayClusters, "spare")), BootstrapServers: []string{fmt.Sprintf("127.0.0.1:%d", 9000+w.rng.IntN(100))}})
		w.must(err)
	case k == 1:
		c := w.pick(replayClusters)
		if w.rng.IntN(2) == 0 {
			w.must(w.s.ForgetDivergence(w.ctx, ForgottenDivergence{Cluster: c, Policy: name, Epoch: st.Epoch}))
		} else {
			w.must(w.s.DeleteCluster(w.ctx, c))
		}
	case k == 2 && stored:
		w.must(w.s.DeletePolicy(w.ctx, name))
	case !stored || k <= 4:
		// Created with a primary, or updated (max_lag_records changes).
		_, _, err := w.s.PutPolicy(w.ctx, agentapi.Policy{Name: name, Clusters: replayClusters, Primary: w.pick(replayClusters),
			Mirrors: []string{"m-" + name}, MaxLagRecords: int64(1 + w.rng.IntN(1000))})
		w.must(err)
		if w.rng.IntN(2) == 0 {
			_, _, err = w.s.PutMirror(w.ctx, agentapi.Mirror{Name: "m-" + name, Source: w.pick(replayClusters), Target: w.pick(replayClusters)})
			w.must(err)
		}
	case k <= 7:
		to := w.pick(replayClusters)
		mode := agentapi.ModeForced
		if w.rng.IntN(3) == 0 {
			mode = agentapi.ModePlanned
		}
		op.Kind, op.Run = policy.OpBegin, &agentapi.FailoverRun{RequestID: id, From: st.Active, To: to, Mode: mode, FromEpoch: st.Epoch}
	case k <= 10:
		if st.InProgress != nil {
			op.RequestID = st.InProgress.RequestID
		}
		op.Kind = []string{policy.OpFreeze, policy.OpComplete, policy.OpComplete, policy.OpAbort}[w.rng.IntN(4)]
		op.Result = &agentapi.Failover{RequestID: op.RequestID, CompletedAt: time.Now().UTC().Truncate(time.Millisecond)}
	default:
		c := w.pick(replayClusters)
		op.Kind = policy.OpQuarantine
		if _, done := st.Quarantine(c); done {
			op.Kind = policy.OpRebuilt
		}
		op.Quarantine = &agentapi.Quarantine{Policy: name, Cluster: c, Active: st.Active, RequestID: id, DivergedEpoch: st.Diverged[c], Records: int64(w.rng.IntN(100))}
	}
	if op.Kind != "" {
		_, err := w.s.AppendOp(w.ctx, op)
		w.must(err)
	}
}

// compact runs the broker's log cleaner now; tombstones go too when
// deleteTombstones (delete.retention.ms passed).
func compact(t *testing.T, state *devcluster.Cluster, adm *kadm.Client, deleteTombstones bool) {
	t.Helper()
	retention := "86400000"
	if deleteTombstones {
		retention = "0"
	}
	resp, err := adm.AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: "delete.retention.ms", Value: &retention}}, StateTopic)
	if err == nil {
		_, err = resp.On(StateTopic, nil)
	}
	if err != nil {
		t.Fatalf("set delete.retention.ms on %s: %v", StateTopic, err)
	}
	state.Compact()
}

// Whatever the state cluster's compaction keeps, a replica that starts and
// replays the state topic reaches the state of the replica that wrote it:
// the same clusters, mirrors and policies, and for each policy the same
// active cluster, epoch, failovers, divergences and quarantines.
func TestAReplicaReplayingTheCompactedStateTopicReachesTheWritersState(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(6) {
		state := kafkatest.Cluster(t, fmt.Sprint("state-", seed))
		conn := kafkaconn.Conn{Name: "state", BootstrapServers: state.Bootstrap()}
		adm := kadm.NewClient(kafkatest.Client(t, state.Bootstrap()))
		writer, err := Open(ctx, conn, nil)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(seed, 7))
		w := &stateWriter{t: t, ctx: ctx, rng: rng, s: writer}
		compactions := 0
		for i := range 120 {
			w.step(w.pick([]string{"p", "q"}))
			if rng.IntN(8) > 0 && i < 119 {
				continue
			}
			compact(t, state, adm, rng.IntN(2) == 0)
			compactions++
			replica, err := Open(ctx, conn, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := stateDiff(writer, replica); diff != "" {
				t.Fatalf("seed %d, after %d writes and %d compactions, a replica replaying the state topic differs from its writer: %s", seed, i+1, compactions, diff)
			}
			replica.Close()
		}
		writer.Close()
		if recs := kafkatest.ReadAll(t, state.Bootstrap(), StateTopic)[0]; len(recs) >= int(recs[len(recs)-1].Offset) {
			t.Fatalf("seed %d: compaction left %d of %d records: the test compacted nothing", seed, len(recs), recs[len(recs)-1].Offset+1)
		}
	}
}

// stateDiff says how b's view of the state differs from a's, "" when it
// does not.
func stateDiff(a, b *Store) string {
	type view struct {
		what string
		a, b any
	}
	views := []view{{"clusters", a.Clusters(), b.Clusters()}, {"mirrors", a.Mirrors(), b.Mirrors()}, {"policies", a.Policies(), b.Policies()}}
	type policyView struct {
		Policy   agentapi.Policy
		Err      error
		State    policy.State
		Stored   bool
		Frozen   bool
		FrozenBy string
	}
	of := func(s *Store, name string) policyView {
		var v policyView
		v.Policy, v.Err = s.GetPolicy(name)
		v.State, v.Stored = s.PolicyState(name)
		v.Frozen, v.FrozenBy = s.MirrorFrozen("m-"+name, "na", "eu")
		return v
	}
	for _, name := range []string{"p", "q"} {
		views = append(views, view{"policy " + name, of(a, name), of(b, name)})
	}
	for _, v := range views {
		if !reflect.DeepEqual(v.a, v.b) {
			return fmt.Sprintf("%s:\n replica %s\n  writer %s", v.what, spew(v.b), spew(v.a))
		}
	}
	return ""
}

func spew(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(raw)
}
