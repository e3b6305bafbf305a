// Package mirror is the topic replication engine: for each stored mirror it
// keeps the target topics in shape and runs the tasks that copy records
// exactly once, spread over the agent replicas by Kafka's group protocol.
package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/checkpoint"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// Manager runs a runner per stored mirror and restarts it when the mirror or
// its clusters change.
type Manager struct {
	Store    *store.Store
	State    kafkaconn.Conn // the state cluster, for task membership and status
	Log      *slog.Logger
	Metrics  *Metrics
	Board    *Board
	Sessions time.Duration // group session timeout: how soon a dead agent's tasks move
	AgentID  string        // names this replica in status answers
	Hooks    Hooks         // zero but in the agent's own tests
	// CheckpointMetrics are the checkpoint series, shared by all mirrors.
	CheckpointMetrics *checkpoint.Metrics

	mu      sync.Mutex
	runners map[string]*managedRunner
	stopped map[string]string // mirror -> why a policy stopped it
	stops   chan struct{}     // closed when a runner is removed, then made anew
}

type managedRunner struct {
	r      *runner
	spec   []byte // mirror and cluster connections it was started with
	cancel context.CancelFunc
	done   chan struct{}
}

// Run reconciles until ctx ends, then stops every runner.
func (mg *Manager) Run(ctx context.Context) {
	mg.runners = map[string]*managedRunner{}
	mg.stopped = map[string]string{}
	publish := time.NewTicker(time.Second)
	defer publish.Stop()
	defer mg.stopAll()
	for {
		changed := mg.Store.Changed()
		mg.reconcile(ctx)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-publish.C:
			mg.publishStatus(ctx)
		}
	}
}

func (mg *Manager) reconcile(ctx context.Context) {
	want := map[string]bool{}
	stopped := map[string]string{}
	for _, m := range mg.Store.Mirrors() {
		// A failover stops the mirrors of its policy: copying from a
		// cluster that is no longer active would mix its divergent tail
		// into the new active's topics.
		if frozen, why := mg.Store.MirrorFrozen(m.Name, m.Source, m.Target); frozen {
			stopped[m.Name] = why
			continue
		}
		want[m.Name] = true
		spec, r, err := mg.prepare(m)
		mg.mu.Lock()
		cur, running := mg.runners[m.Name]
		mg.mu.Unlock()
		if running && reflect.DeepEqual(cur.spec, spec) {
			continue
		}
		if running {
			mg.stop(m.Name)
		}
		if err != nil {
			mg.Log.Error("mirror cannot start", "mirror", m.Name, "error", err)
			continue
		}
		mg.start(ctx, m.Name, spec, r)
	}
	mg.mu.Lock()
	mg.stopped = stopped
	var gone []string
	for name := range mg.runners {
		if !want[name] {
			gone = append(gone, name)
		}
	}
	mg.mu.Unlock()
	mg.stopEach(gone)
}

// prepare builds a runner for m; spec identifies what it depends on.
func (mg *Manager) prepare(m agentapi.Mirror) ([]byte, *runner, error) {
	srcConn, err := mg.Store.Conn(m.Source)
	if err != nil {
		return nil, nil, err
	}
	dstConn, err := mg.Store.Conn(m.Target)
	if err != nil {
		return nil, nil, err
	}
	// The spec holds secrets in memory only, to notice a changed password.
	spec, _ := json.Marshal([]any{m, srcConn, dstConn})
	sel, err := CompileSelector("topics", m.Topics)
	if err != nil {
		return spec, nil, err
	}
	srcOpts, err := kafkaconn.Opts(srcConn)
	if err != nil {
		return spec, nil, fmt.Errorf("source: %w", err)
	}
	dstOpts, err := kafkaconn.Opts(dstConn)
	if err != nil {
		return spec, nil, fmt.Errorf("target: %w", err)
	}
	stateOpts, err := kafkaconn.Opts(mg.State)
	if err != nil {
		return spec, nil, err
	}
	m.TasksMax = tasksMaxOf(m)
	log := mg.Log.With("mirror", m.Name)
	return spec, &runner{
		m: m, sel: sel, srcOpts: srcOpts, dstOpts: dstOpts, state: stateOpts,
		log: log, metrics: mg.Metrics, sessions: mg.sessionTimeout(), agentID: mg.AgentID, hooks: mg.Hooks, cpMetrics: mg.CheckpointMetrics,
		tasks: map[int]*runningTask{}, frozen: mg.frozenNow(m), hold: mg.holdNow(m),
		writer: func(target string) string { return mg.Store.TopicWriter(m.Name, target) },
		format: mg.Store.Format,
		book:   mg.Store,
	}, nil
}

// frozenNow answers, for a task about to copy with a new producer id, why
// mirror m is frozen ("" when it is not), after this replica has read the
// state topic up to now. A failover commits its freeze before it fences the
// tasks' transactional ids, so a task that starts after the fence sees the
// freeze even on a replica whose tail of the state topic lagged: nothing is
// copied after the failover read the final offset syncs.
func (mg *Manager) frozenNow(m agentapi.Mirror) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		// Bounded, so that a state cluster out of reach shows in the
		// task's status instead of a task that hangs.
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := mg.Store.CatchUp(ctx); err != nil {
			return "", fmt.Errorf("read the state topic up to now: %w", err)
		}
		if frozen, why := mg.Store.MirrorFrozen(m.Name, m.Source, m.Target); frozen {
			return why, nil
		}
		return "", nil
	}
}

// holdNow answers, for a task about to copy, why it must not ("" when it
// may): its mirror is frozen, or was deleted or given another tasks_max
// since this runner started, read from the state topic up to now. A task of
// an old tasks_max copies nothing once the new one is stored: the new tasks
// own its partitions under other transactional ids.
func (mg *Manager) holdNow(m agentapi.Mirror) func(context.Context) (string, error) {
	frozen := mg.frozenNow(m)
	return func(ctx context.Context) (string, error) {
		if why, err := frozen(ctx); why != "" || err != nil {
			return why, err
		}
		cur, err := mg.Store.GetMirror(m.Name)
		if err != nil {
			return "the mirror was deleted; this replica stops it", nil
		}
		if n := tasksMaxOf(cur); n != m.TasksMax {
			return fmt.Sprintf("tasks_max changed from %d to %d; this replica restarts the mirror with %d tasks", m.TasksMax, n, n), nil
		}
		return "", nil
	}
}

func (mg *Manager) sessionTimeout() time.Duration {
	if mg.Sessions > 0 {
		return mg.Sessions
	}
	return 10 * time.Second
}

func (mg *Manager) start(ctx context.Context, name string, spec []byte, r *runner) {
	rctx, cancel := context.WithCancel(ctx)
	mr := &managedRunner{r: r, spec: spec, cancel: cancel, done: make(chan struct{})}
	mg.mu.Lock()
	mg.runners[name] = mr
	mg.mu.Unlock()
	go func() {
		defer close(mr.done)
		for rctx.Err() == nil {
			if err := r.run(rctx); err != nil && rctx.Err() == nil {
				r.log.Error("mirror failed; retrying in 2s", "error", err)
				r.mu.Lock()
				r.err = err.Error()
				r.mu.Unlock()
				mg.Metrics.errors.WithLabelValues(name).Inc()
				select {
				case <-rctx.Done():
				case <-time.After(2 * time.Second):
				}
			}
		}
	}()
	r.log.Info("mirror started", "source", r.m.Source, "target", r.m.Target, "tasks_max", r.m.TasksMax)
}

func (mg *Manager) stop(name string) {
	mg.mu.Lock()
	mr, ok := mg.runners[name]
	mg.mu.Unlock()
	if !ok {
		return
	}
	mr.cancel()
	<-mr.done
	// Running until its tasks ended: a failover that waits for the
	// mirror reads its offset syncs only after their last commit.
	mg.mu.Lock()
	if mg.runners[name] == mr {
		delete(mg.runners, name)
	}
	if mg.stops != nil {
		close(mg.stops)
		mg.stops = nil
	}
	mg.mu.Unlock()
	mg.Board.Forget(name)
	// A stopped mirror copies nothing on purpose: no alarm of it stays.
	mg.Metrics.notCopying.DeleteLabelValues(name)
	mg.Metrics.notCopyingSince.DeleteLabelValues(name)
	mr.r.log.Info("mirror stopped")
}

// stopAll stops every runner as the agent shuts down: their members leave
// the task groups.
func (mg *Manager) stopAll() {
	mg.mu.Lock()
	names := make([]string, 0, len(mg.runners))
	for n, mr := range mg.runners {
		names = append(names, n)
		mr.r.leaving.Store(true)
	}
	mg.mu.Unlock()
	mg.stopEach(names)
}

// stopEach stops the runners side by side: each may wait for its tasks'
// last commits, and one mirror must not wait for another's, e.g. a forced
// failover's mirror for one into the lost cluster.
func (mg *Manager) stopEach(names []string) {
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() { mg.stop(n) })
	}
	wg.Wait()
}

// publishStatus sends the status of this agent's tasks to the status topic
// and the metrics.
func (mg *Manager) publishStatus(ctx context.Context) {
	now := time.Now().UTC()
	mg.mu.Lock()
	runners := make(map[string]*runner, len(mg.runners))
	for n, mr := range mg.runners {
		runners[n] = mr.r
	}
	mg.mu.Unlock()
	for name, r := range runners {
		parts, rerr := r.status(now)
		for _, p := range parts {
			labels := []string{name, p.Topic, fmt.Sprint(p.Partition)}
			mg.Metrics.lag.WithLabelValues(labels...).Set(float64(p.LagRecords))
			mg.Metrics.lagMs.WithLabelValues(labels...).Set(float64(p.LagMillis))
		}
		mg.Board.Publish(ctx, name, parts, rerr)
		mg.Board.PublishEnds(ctx, name, r.observedEnds())
		n, since := r.noteCopying(mg.Board, now)
		mg.Metrics.notCopying.WithLabelValues(name).Set(float64(n))
		mg.Metrics.notCopyingSince.WithLabelValues(name).Set(unixSeconds(since))
	}
}

// unixSeconds is t as a Prometheus timestamp gauge: 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

// GroupCheckpoints answers a group's checkpoints in a mirror; false when the
// mirror does not run here or has no checkpoint of the group.
func (mg *Manager) GroupCheckpoints(mirror, group string) (agentapi.GroupCheckpoints, bool) {
	mg.mu.Lock()
	mr, ok := mg.runners[mirror]
	mg.mu.Unlock()
	if !ok {
		return agentapi.GroupCheckpoints{}, false
	}
	return mr.r.group(group)
}

// StatusOf answers a mirror's status as the replicas last published it.
func (mg *Manager) StatusOf(name string) agentapi.MirrorStatus {
	st := mg.Board.Status(name)
	mg.mu.Lock()
	defer mg.mu.Unlock()
	if why, ok := mg.stopped[name]; ok {
		st.State, st.Reason = agentapi.MirrorStopped, why
	} else if mr, ok := mg.runners[name]; ok {
		// A failure says what to fix; what the mirror does not copy
		// although it runs follows it.
		if note := mr.r.statusNote(); note != "" {
			st.Reason = strings.TrimPrefix(st.Reason+"; "+note, "; ")
		}
		st.PartitionsNotCopying, st.NotCopyingSince = mr.r.copying()
		// No task publishes anything for a mirror with no partition,
		// and its standby must not wait for one.
		if st.State == agentapi.MirrorStarting && len(st.Partitions) == 0 && mr.r.foundNothing() {
			st.State = agentapi.MirrorRunning
		}
	}
	if m, err := mg.Store.GetMirror(name); err == nil && SyncsACLs(m) {
		if a, ok := mg.Store.MirrorACLs(name, m.Target); ok {
			st.ACLs = &a.ACLSync
		}
	}
	return st
}

// LastSeen answers a mirror's partitions as last published, however old,
// with the source's ends as this replica saw them last, which may be newer.
func (mg *Manager) LastSeen(name string) []agentapi.PartitionStatus {
	mg.mu.Lock()
	mr, ok := mg.runners[name]
	mg.mu.Unlock()
	var local []End
	if ok {
		local = mr.r.observedEnds()
	}
	return mg.Board.LastSeen(name, local)
}

// Running reports whether this replica runs the mirror now, and a channel
// closed when it next stops a mirror: a failover waits for its mirrors to
// stop on it instead of looking again after a while.
func (mg *Manager) Running(name string) (bool, <-chan struct{}) {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	if mg.stops == nil {
		mg.stops = make(chan struct{})
	}
	_, ok := mg.runners[name]
	return ok, mg.stops
}

// Checkpoints answers every group's last checkpoints in a mirror, as stored.
func (mg *Manager) Checkpoints(mirror string) []agentapi.GroupCheckpoints {
	mg.mu.Lock()
	mr, ok := mg.runners[mirror]
	mg.mu.Unlock()
	if !ok {
		return nil
	}
	mr.r.mu.Lock()
	cache := mr.r.cache
	mr.r.mu.Unlock()
	if cache == nil {
		return nil
	}
	return cache.All()
}
