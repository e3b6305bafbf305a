package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/checkpoint"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/policy"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// Refused is a failover the agent will not do, with the HTTP status and,
// where a field is to blame, its name.
type Refused struct {
	Status  int
	Field   string
	Message string
}

func (r *Refused) Error() string { return r.Message }

func refuse(status int, field, format string, args ...any) error {
	return &Refused{Status: status, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Mirrors is what the executor needs from the mirror engine.
type Mirrors interface {
	StatusOf(mirror string) agentapi.MirrorStatus
	LastSeen(mirror string) []agentapi.PartitionStatus
	Checkpoints(mirror string) []agentapi.GroupCheckpoints
	// Running reports whether this replica runs the mirror, and a
	// channel closed when it next stops one.
	Running(mirror string) (bool, <-chan struct{})
}

// Executor carries out failovers on this agent replica.
type Executor struct {
	Store   *store.Store
	Mirrors Mirrors
	AgentID string
	Log     *slog.Logger
	// AfterStep, when set, is called after each failover step that a crash
	// may interrupt; tests stop the agent there. Nil in the agent binary.
	AfterStep func(policy, step string)

	// One failover or reverse at a time per policy on this replica; the
	// policies' own do not wait for each other (one may drain for long).
	policyMu sync.Mutex
	policyLk map[string]*sync.Mutex

	runMu   sync.Mutex
	running map[string]bool // the request ids of the failovers this replica runs now

	retries commitRetries
}

// RecoverEvery is how often the agent calls Recover.
const RecoverEvery = 30 * time.Second

// lock takes the policy's lock, until unlock is called.
func (e *Executor) lock(policy string) (unlock func()) {
	e.policyMu.Lock()
	if e.policyLk == nil {
		e.policyLk = map[string]*sync.Mutex{}
	}
	mu := e.policyLk[policy]
	if mu == nil {
		mu = &sync.Mutex{}
		e.policyLk[policy] = mu
	}
	e.policyMu.Unlock()
	mu.Lock()
	return mu.Unlock
}

// runs records a failover this replica runs, until done is called.
func (e *Executor) runs(requestID string) (done func()) {
	e.runMu.Lock()
	if e.running == nil {
		e.running = map[string]bool{}
	}
	e.running[requestID] = true
	e.runMu.Unlock()
	return func() {
		e.runMu.Lock()
		delete(e.running, requestID)
		e.runMu.Unlock()
	}
}

// runningHere reports whether this replica runs the failover now.
func (e *Executor) runningHere(requestID string) bool {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	return e.running[requestID]
}

// Failover steps after which an agent may stop, in the order they happen.
const (
	StepBegun  = "begun"  // the begin op is stored
	StepFenced = "fenced" // writes are fenced on the old active cluster
	StepFrozen = "frozen" // the freeze op is stored: the mirrors stop
	// StepGranted: the held ACLs are made on the new active cluster.
	StepGranted = "granted"
)

func (e *Executor) after(policy, step string) {
	if e.AfterStep != nil {
		e.AfterStep(policy, step)
	}
}

// plan is a validated failover about to run.
type plan struct {
	p       agentapi.Policy
	st      policy.State
	req     agentapi.FailoverRequest
	mirrors []agentapi.Mirror // the policy's mirrors from the old active to the new
	// Taken before anything stops: per mirror, source topic -> target
	// topic, and the source's high watermarks as last observed.
	topics      map[string]map[string]string
	seen        map[string]map[tpKey]observation
	checkpoints map[string][]agentapi.GroupCheckpoints // per mirror, the last stored
	fence       *agentapi.Fence                        // what a planned failover fences, or nil
	grants      []agentapi.ACL                         // the held ACLs the flip makes on the new active
	grantErrs   []agentapi.ACLError                    // the held ACLs it cannot tell about
	// retry holds the translated offsets the new active refused, per
	// group: committed again after the flip (see RetryCommits).
	retry map[string]kadm.Offsets
}

// Failover runs a failover request to its end: completed (the flip) or
// aborted (cleanly not done). The same request id answers the first result.
func (e *Executor) Failover(ctx context.Context, name string, req agentapi.FailoverRequest) (agentapi.Failover, error) {
	defer e.lock(name)()
	pl, done, err := e.validate(ctx, name, req)
	if err != nil || done != nil {
		return derefOr(done), err
	}
	run := agentapi.FailoverRun{
		RequestID: req.RequestID, From: pl.st.Active, To: req.To, Mode: req.Mode,
		FromEpoch: pl.st.Epoch, Agent: e.AgentID, StartedAt: time.Now().UTC(),
		Frozen: req.Mode == agentapi.ModeForced, // a lost cluster has nothing left to drain
	}
	if req.Mode == agentapi.ModePlanned && pl.p.Fencing == agentapi.FencingACL {
		f, err := e.planFence(ctx, pl.st.Active, sourceTopics(pl.topics))
		if err != nil {
			return agentapi.Failover{}, err
		}
		run.Fence, pl.fence = &f, &f
	}
	pl.grants, pl.grantErrs = e.grants(ctx, req.To, pl.mirrors)
	run.Grants = pl.grants
	op := policy.Op{Kind: policy.OpBegin, Policy: name, Generation: pl.p.CreatedAt, RequestID: req.RequestID, Run: &run}
	defer e.runs(req.RequestID)() // before the begin op: Recover must not take it for abandoned
	applied, err := e.Store.AppendOp(ctx, op)
	if err != nil {
		return agentapi.Failover{}, err
	}
	if !applied {
		return agentapi.Failover{}, refuse(http.StatusConflict, "", "another failover of policy %s started first or the epoch moved: read the policy and retry with its current epoch", name)
	}
	log := e.Log.With("policy", name, "request_id", req.RequestID, "from", run.From, "to", run.To, "mode", req.Mode)
	log.Info("failover started")
	e.after(name, StepBegun)
	result := agentapi.Failover{
		Policy: name, RequestID: req.RequestID, From: run.From, To: run.To, Mode: req.Mode,
		RequestedBy: req.RequestedBy, Agent: e.AgentID, StartedAt: run.StartedAt,
	}
	report, err := e.execute(ctx, pl, log)
	result.CompletedAt = time.Now().UTC()
	// The outcome is written with a fresh context: a client that gave up
	// must not leave the failover half done.
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err != nil {
		result.Reason = err.Error()
		if _, werr := e.abort(wctx, pl.p, run, result, log); werr != nil {
			log.Error("could not record the aborted failover", "error", werr)
		}
		log.Warn("failover aborted; nothing flipped", "error", err)
		return agentapi.Failover{}, err
	}
	result.Report = report
	applied, err = e.Store.AppendOp(wctx, policy.Op{Kind: policy.OpComplete, Policy: name, Generation: pl.p.CreatedAt, RequestID: req.RequestID, Result: &result})
	if err != nil {
		return e.unrecorded(wctx, pl.p, run, result, err, log)
	}
	if !applied {
		// Another replica judged this failover stale and aborted it first:
		// the state topic says it did not happen.
		log.Error("the failover was aborted by another replica before it could complete; nothing flipped")
		return agentapi.Failover{}, errors.New("another agent replica aborted this failover as stale before it completed; nothing flipped: retry the request")
	}
	e.retryAfterFlip(name, req.RequestID, run.To, pl.retry)
	st, _ := e.Store.PolicyState(name)
	final := st.Results[req.RequestID]
	log.Info("failover completed", "epoch", final.Epoch, "records_lost", report.RecordsLost, "offsets_committed", report.OffsetsCommitted)
	return final, nil
}

// unrecorded ends a failover whose flip could not be written: nothing
// flipped, so it is aborted like any other, its fence lifted and its mirrors
// unfrozen. If the flip was written after all (only its answer was lost),
// that is the result. If the abort cannot be written either, the failover
// stays under way in the state topic until Recover ends it.
func (e *Executor) unrecorded(ctx context.Context, p agentapi.Policy, run agentapi.FailoverRun, result agentapi.Failover, cause error, log *slog.Logger) (agentapi.Failover, error) {
	result.Report = nil
	result.Reason = "the flip could not be recorded: " + cause.Error()
	_, err := e.abort(ctx, p, run, result, log)
	if st, _ := e.Store.PolicyState(p.Name); st.Results[run.RequestID].Outcome == agentapi.OutcomeCompleted {
		log.Warn("the flip was recorded although its write answered an error", "error", cause)
		return st.Results[run.RequestID], nil
	}
	if err != nil {
		log.Error("could not record the flip nor the abort; the failover stays under way until an agent ends it", "error", cause, "abort_error", err)
		return agentapi.Failover{}, fmt.Errorf("the flip could not be recorded (%w) and neither could the abort (%v): nothing flipped; the failover ends when this agent restarts or within %s", cause, err, RecoverEvery)
	}
	log.Warn("failover aborted; its flip could not be recorded and nothing flipped", "error", cause)
	return agentapi.Failover{}, fmt.Errorf("the flip could not be recorded, so nothing flipped: %w", cause)
}

// reconcileHint tells how a diverged cluster becomes a standby, and then a
// possible active cluster, again: the agent's reverse request, which the
// provider's kafka_failover_reconciliation sends.
func reconcileHint(policyName, cluster string, st policy.State) string {
	if q, ok := st.Quarantine(cluster); ok {
		return fmt.Sprintf("its divergent tail is quarantined on %s (request %s) but its rebuild did not finish: repeat POST /v1/policies/%s/reverse with {\"cluster\": %q, \"request_id\": %q}, then wait for the mirror from %s to %s to catch up before failing over to %s",
			q.Active, q.RequestID, policyName, cluster, q.RequestID, st.Active, cluster, cluster)
	}
	return fmt.Sprintf("once it answers again, POST /v1/policies/%s/reverse to the agent with {\"cluster\": %q, \"request_id\": \"<a new unique id>\"} (in Terraform: a kafka_failover_reconciliation of %[2]q): "+
		"it quarantines those records in <topic>.diverged on %s and rebuilds %s as a standby through a mirror from %s to %s, which the policy's mirrors must include; when that mirror has caught up, fail over to %s",
		policyName, cluster, st.Active, cluster, st.Active, cluster, cluster)
}

// sameFailover refuses a request that repeats the id of a completed
// failover but asks for another one, rather than answer that one as if it
// were this. The same failover goes to the same cluster in the same mode,
// and expects, if anything, the epoch it started from; requested_by is not
// part of it.
func sameFailover(done agentapi.Failover, req agentapi.FailoverRequest) error {
	from := done.Epoch - 1
	if req.To == done.To && req.Mode == done.Mode && (req.ExpectedEpoch == nil || *req.ExpectedEpoch == from) {
		return nil
	}
	return refuse(http.StatusConflict, "request_id", "request %s was a %s failover to %s from epoch %d, which completed at epoch %d; "+
		"a repeated request_id must repeat its to and mode, and an expected_epoch if any of %d: send a new request_id for another failover",
		done.RequestID, done.Mode, done.To, from, done.Epoch, from)
}

func derefOr(f *agentapi.Failover) agentapi.Failover {
	if f == nil {
		return agentapi.Failover{}
	}
	return *f
}

// validate checks a request; done is the earlier answer of a repeated one.
func (e *Executor) validate(ctx context.Context, name string, req agentapi.FailoverRequest) (*plan, *agentapi.Failover, error) {
	p, err := e.Store.GetPolicy(name)
	if err != nil {
		return nil, nil, refuse(http.StatusNotFound, "", "no policy named %q", name)
	}
	st, _ := e.Store.PolicyState(name)
	if req.RequestID == "" {
		return nil, nil, refuse(http.StatusBadRequest, "request_id", "required: a unique id for this failover, so that a retried request flips only once")
	}
	if prev, ok := st.Results[req.RequestID]; ok && prev.Outcome == agentapi.OutcomeCompleted {
		if err := sameFailover(prev, req); err != nil {
			return nil, nil, err
		}
		return nil, &prev, nil
	}
	if !slices.Contains(agentapi.FailoverModes, req.Mode) {
		return nil, nil, refuse(http.StatusBadRequest, "mode", "%q is not a failover mode: use planned (the active cluster is reachable) or forced (it is lost)", req.Mode)
	}
	if !slices.Contains(p.Clusters, req.To) {
		return nil, nil, refuse(http.StatusBadRequest, "to", "cluster %q is not in policy %s (clusters: %s)", req.To, name, strings.Join(p.Clusters, ", "))
	}
	if st.InProgress != nil {
		return nil, nil, refuse(http.StatusConflict, "", "a failover of policy %s to %s (request %s) is under way since %s: wait for it to end", name, st.InProgress.To, st.InProgress.RequestID, st.InProgress.StartedAt.Format(time.RFC3339))
	}
	if req.ExpectedEpoch != nil && *req.ExpectedEpoch != st.Epoch {
		return nil, nil, refuse(http.StatusConflict, "expected_epoch", "the epoch is %d, not %d: the active cluster changed since you looked (it is %s); review and retry", st.Epoch, *req.ExpectedEpoch, st.Active)
	}
	if epoch, diverged := st.Diverged[req.To]; diverged {
		return nil, nil, refuse(http.StatusConflict, "to", "%s was left behind by the forced failover to epoch %d and may hold records that were never mirrored: %s", req.To, epoch, reconcileHint(name, req.To, st))
	}
	if req.To == st.Active {
		return nil, nil, refuse(http.StatusConflict, "to", "%s is already the active cluster of policy %s (epoch %d)", req.To, name, st.Epoch)
	}
	pl := &plan{p: p, st: st, req: req}
	for _, mn := range p.Mirrors {
		m, err := e.Store.GetMirror(mn)
		if err == nil && m.Source == st.Active && m.Target == req.To {
			pl.mirrors = append(pl.mirrors, m)
		}
	}
	if len(pl.mirrors) == 0 {
		return nil, nil, refuse(http.StatusConflict, "to", "policy %s has no mirror from %s to %s: %s holds no copy of the active cluster's topics", name, st.Active, req.To, req.To)
	}
	if err := e.reachable(ctx, req.To); err != nil {
		return nil, nil, refuse(http.StatusConflict, "to", "the new active cluster %s does not answer: %v", req.To, err)
	}
	pl.topics, pl.seen, pl.checkpoints = map[string]map[string]string{}, map[string]map[tpKey]observation{}, map[string][]agentapi.GroupCheckpoints{}
	for _, m := range pl.mirrors {
		pl.checkpoints[m.Name] = e.Mirrors.Checkpoints(m.Name)
		pl.topics[m.Name], pl.seen[m.Name] = map[string]string{}, map[tpKey]observation{}
		for _, p := range e.Mirrors.LastSeen(m.Name) {
			pl.topics[m.Name][p.Topic] = p.TargetTopic
			if k := (tpKey{p.Topic, p.Partition}); p.SourceHighWatermarkAt.After(pl.seen[m.Name][k].at) {
				pl.seen[m.Name][k] = observation{p.SourceHighWatermark, p.SourceHighWatermarkAt}
			}
		}
	}
	if req.Mode == agentapi.ModePlanned {
		// Fence and drain every matching topic, also one created since the
		// last refresh and one whose status went quiet.
		for _, m := range pl.mirrors {
			topics, err := e.matchingTopics(ctx, m)
			if err != nil {
				return nil, nil, refuse(http.StatusConflict, "mode", "a planned failover needs the active cluster %s, whose topics cannot be listed (%v): use mode forced if it is lost", st.Active, err)
			}
			for _, t := range topics {
				pl.topics[m.Name][t] = mirror.TargetTopic(m.ReplicationPolicy, m.Source, t)
			}
		}
		if err := e.reachable(ctx, st.Active); err != nil {
			return nil, nil, refuse(http.StatusConflict, "mode", "a planned failover needs the active cluster %s, which does not answer (%v): use mode forced if it is lost", st.Active, err)
		}
		lag := e.lag(pl)
		if lag.records > p.MaxLagRecords || lag.seconds > p.MaxLagSeconds {
			return nil, nil, refuse(http.StatusConflict, "mode", "the mirrors into %s lag by %d records / %ds, over the policy's limits (%d records, %ds): wait for them to catch up, or use mode forced", req.To, lag.records, lag.seconds, p.MaxLagRecords, p.MaxLagSeconds)
		}
	}
	return pl, nil, nil
}

type lagSum struct{ records, seconds int64 }

func (e *Executor) lag(pl *plan) lagSum {
	var l lagSum
	for _, m := range pl.mirrors {
		st := e.Mirrors.StatusOf(m.Name)
		l.records += st.LagRecords
		for _, p := range st.Partitions {
			l.seconds = max(l.seconds, p.LagMillis/1000)
		}
	}
	return l
}

func (e *Executor) client(cluster string, opts ...kgo.Opt) (*kgo.Client, []kgo.Opt, error) {
	conn, err := e.Store.Conn(cluster)
	if err != nil {
		return nil, nil, err
	}
	base, err := kafkaconn.Opts(conn)
	if err != nil {
		return nil, nil, err
	}
	base = append(base, kgo.RequestRetries(2), kgo.RetryTimeout(5*time.Second))
	cl, err := kgo.NewClient(append(base, opts...)...)
	return cl, base, err
}

// reachable asks a cluster for its metadata within 5 seconds.
func (e *Executor) reachable(ctx context.Context, cluster string) error {
	cl, _, err := e.client(cluster)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}

// execute does the failover's work; an error aborts it.
func (e *Executor) execute(ctx context.Context, pl *plan, log *slog.Logger) (*agentapi.FailoverReport, error) {
	name, from, to := pl.p.Name, pl.st.Active, pl.req.To
	topics := pl.topics
	hwm := map[string]map[tpKey]observation{} // mirror -> partition -> source high watermark
	if pl.req.Mode == agentapi.ModePlanned {
		src, _, err := e.client(from)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		if pl.fence != nil {
			if err := fence(ctx, src, *pl.fence); err != nil {
				return nil, err
			}
			log.Info("writes fenced on the old active cluster", "acls", pl.fence.Denied())
			e.after(name, StepFenced)
		}
		if err := e.drain(ctx, pl, src, topics, log); err != nil {
			return nil, err
		}
		// Fenced and drained: the source's ends are final.
		for _, m := range pl.mirrors {
			hwm[m.Name] = map[tpKey]observation{}
			if len(topics[m.Name]) == 0 {
				continue
			}
			asked := time.Now().UTC()
			ends, err := kadm.NewClient(src).ListEndOffsets(ctx, keys(topics[m.Name])...)
			if err != nil {
				return nil, fmt.Errorf("end offsets on %s: %w", from, err)
			}
			ends.Each(func(o kadm.ListedOffset) { hwm[m.Name][tpKey{o.Topic, o.Partition}] = observation{o.Offset, asked} })
		}
		applied, err := e.Store.AppendOp(ctx, policy.Op{Kind: policy.OpFreeze, Policy: name, Generation: pl.p.CreatedAt, RequestID: pl.req.RequestID})
		if err != nil {
			return nil, err
		}
		if !applied {
			return nil, errors.New("another agent replica aborted this failover as stale before the mirrors froze; nothing flipped: retry the request")
		}
		e.after(name, StepFrozen)
	} else {
		// What the old active last told the mirror tasks is all we know.
		hwm = pl.seen
	}

	checkpoints := pl.checkpoints
	if err := e.waitStopped(ctx, pl); err != nil {
		return nil, err
	}
	dst, dstOpts, err := e.client(to)
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	// The mirrors stopped: the new active may take the applications'
	// writes from now on, and they learn of it at the flip.
	granted, grantErrs := grant(ctx, dst, pl.grants, log)
	e.after(name, StepGranted)

	report := &agentapi.FailoverReport{Partitions: []agentapi.PartitionLoss{}, Groups: []agentapi.GroupResumption{},
		ACLsApplied: granted, ACLErrors: append(pl.grantErrs, grantErrs...)}
	commits := map[string]kadm.Offsets{}
	resumptions := map[string]*agentapi.GroupResumption{}
	for _, m := range pl.mirrors {
		idx, err := mirror.FinalSyncs(ctx, dstOpts, m)
		if err != nil {
			return nil, err
		}
		for k, seen := range hwm[m.Name] {
			h := seen.hwm
			log := idx.Log(k.topic, k.partition)
			upTo := log.SourceNext()
			lost := max(0, h-upTo)
			if lost > 0 && pl.req.Mode == agentapi.ModePlanned {
				// The fenced source is there to count records, not offsets.
				if n, ok := e.countOn(ctx, from, k, upTo, h); ok {
					lost = n
				}
			}
			loss := agentapi.PartitionLoss{Mirror: m.Name, Topic: k.topic, TargetTopic: topics[m.Name][k.topic], Partition: k.partition,
				SourceHighWatermark: h, HighWatermarkObservedAt: seen.at, MirroredUpTo: upTo,
				RecordsLost: lost + log.Skipped(), RecordsSkipped: log.Skipped()}
			report.Partitions = append(report.Partitions, loss)
			report.RecordsLost += loss.RecordsLost
			report.RecordsSkipped += loss.RecordsSkipped
		}
		positions, err := e.groupPositions(ctx, pl, m, checkpoints[m.Name])
		if err != nil {
			return nil, err
		}
		translateGroups(idx, topics[m.Name], positions, commits, resumptions)
	}
	done := checkpoint.CommitIdleGroups(ctx, dst, commits)
	report.OffsetsCommitted = done.Committed
	pl.retry = map[string]kadm.Offsets{}
	for g, why := range done.Failed {
		log.Warn("translated offsets not committed for a group; retried after the flip", "group", g, "reason", why)
		if r := resumptions[g]; r != nil {
			r.CommitError, r.CommitRetrying = why, true
		}
		pl.retry[g] = commits[g]
	}
	for _, r := range resumptions {
		report.Groups = append(report.Groups, *r)
	}
	sort.Slice(report.Partitions, func(i, j int) bool {
		a, b := report.Partitions[i], report.Partitions[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	sort.Slice(report.Groups, func(i, j int) bool { return report.Groups[i].Group < report.Groups[j].Group })
	describeAccuracy(report, from, pl.req.Mode == agentapi.ModePlanned)

	// Mirrors whose source is the new active restart at its end. A forced
	// failover leaves the old active diverged: mirrors into it stay frozen
	// until it is rebuilt, and are seeded then.
	for _, mn := range pl.p.Mirrors {
		m, err := e.Store.GetMirror(mn)
		if err != nil || m.Source != to || (pl.req.Mode == agentapi.ModeForced && m.Target == from) {
			continue
		}
		if err := e.seedFromEnd(ctx, m); err != nil {
			return nil, err
		}
	}

	// The new active takes writes: lift the fence the failover away from it
	// left, as recorded; with none recorded, the fence of earlier agents.
	old, recorded := pl.st.Fences[to]
	if !recorded && pl.p.Fencing == agentapi.FencingACL {
		old, recorded = legacyFence(to, targetTopics(topics)), true
	}
	if recorded {
		if n, err := unfence(ctx, dst, old); err != nil {
			log.Warn("could not lift an earlier failover's fence on the new active cluster: remove its DENY Write ACLs by hand", "cluster", to, "acls", old.Denied(), "error", err)
		} else if n > 0 {
			log.Info("lifted an earlier failover's fence on the new active cluster", "cluster", to, "acls", old.Denied(), "acls_removed", n)
		}
	}
	return report, nil
}

// countOn counts the records in source offsets [from, to) of a partition.
func (e *Executor) countOn(ctx context.Context, cluster string, k tpKey, from, to int64) (int64, bool) {
	cl, _, err := e.client(cluster)
	if err != nil {
		return 0, false
	}
	defer cl.Close()
	return checkpoint.CountRecords(ctx, cl, k.topic, k.partition, from, to)
}

type tpKey struct {
	topic     string
	partition int32
}

func sourceTopics(t map[string]map[string]string) []string {
	var out []string
	for _, m := range t {
		out = append(out, keys(m)...)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func targetTopics(t map[string]map[string]string) []string {
	var out []string
	for _, m := range t {
		for _, target := range m {
			out = append(out, target)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// drain waits until the mirrors have copied everything committed on the
// fenced source, or drain_timeout passes.
func (e *Executor) drain(ctx context.Context, pl *plan, src *kgo.Client, topics map[string]map[string]string, log *slog.Logger) error {
	timeout := agentapi.DefaultDrainTimeout
	if d, err := time.ParseDuration(pl.p.DrainTimeout); err == nil && d > 0 {
		timeout = d
	}
	deadline := time.Now().Add(timeout)
	adm := kadm.NewClient(src)
	for {
		behind := int64(0)
		for _, m := range pl.mirrors {
			if len(topics[m.Name]) == 0 {
				continue // the mirror has copied nothing: nothing to drain
			}
			ends, err := adm.ListEndOffsets(ctx, keys(topics[m.Name])...)
			if err != nil {
				return fmt.Errorf("end offsets on %s: %w", pl.st.Active, err)
			}
			mirrored := map[tpKey]int64{}
			for _, p := range e.Mirrors.StatusOf(m.Name).Partitions {
				mirrored[tpKey{p.Topic, p.Partition}] = p.LastMirroredOffset + 1
			}
			ends.Each(func(o kadm.ListedOffset) {
				from := mirrored[tpKey{o.Topic, o.Partition}]
				if o.Offset <= from {
					return
				}
				// Offsets past the last mirrored record may be only
				// transaction markers or aborted records: count the
				// records there (the source is fenced, so it holds still).
				n, ok := checkpoint.CountRecords(ctx, src, o.Topic, o.Partition, from, o.Offset)
				if !ok {
					n = o.Offset - from
				}
				behind += n
			})
		}
		if behind == 0 {
			log.Info("mirrors drained")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the mirrors still lag by %d records after drain_timeout %s: the failover is undone; retry, raise drain_timeout, or use mode forced", behind, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// waitStopped waits until this replica has stopped the policy's mirrors
// after the freeze. Other replicas need no wait: fencing the tasks'
// transactional ids stops whatever they still copy, and a task that starts
// again reads the state topic up to now before it copies, so it finds the
// freeze (mirror.Manager.frozenNow).
func (e *Executor) waitStopped(ctx context.Context, pl *plan) error {
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for _, m := range pl.mirrors {
		for {
			running, stopped := e.Mirrors.Running(m.Name)
			if !running {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-deadline.C:
				return fmt.Errorf("mirror %s did not stop within 30s", m.Name)
			case <-stopped:
			}
		}
	}
	return nil
}

// position is a group's committed source offset of one partition.
type position struct {
	topic     string
	partition int32
	offset    int64
	metadata  string
}

// notMirrored counts records the group read past what is mirrored.
func (p position) notMirrored(cp offsetsync.Checkpoint) int64 { return cp.NotMirrored }

// translateGroups translates the groups' positions on the source with the
// mirror's final offset syncs, adds the target offsets to commits, and
// accounts for them in resumptions (nil: not wanted). targets maps the
// mirror's source topics to target topics; other topics are left out.
func translateGroups(idx *offsetsync.Index, targets map[string]string, positions map[string]groupPos, commits map[string]kadm.Offsets, resumptions map[string]*agentapi.GroupResumption) {
	for group, pos := range positions {
		res := resumptions[group]
		if res == nil {
			res = &agentapi.GroupResumption{Group: group, CheckpointedAt: pos.at}
			if resumptions != nil {
				resumptions[group] = res
			}
		}
		for _, o := range pos.offsets {
			target, ok := targets[o.topic]
			if !ok {
				continue
			}
			cp := idx.Log(o.topic, o.partition).TranslateCommitted(o.offset)
			if !cp.OK {
				continue
			}
			if commits[group] == nil {
				commits[group] = kadm.Offsets{}
			}
			os := commits[group]
			os.Add(kadm.Offset{Topic: target, Partition: o.partition, At: cp.Target, LeaderEpoch: -1, Metadata: o.metadata})
			res.RecordsNotMirrored += o.notMirrored(cp)
			res.RecordsSkipped += cp.Skipped
			res.Partitions++
		}
	}
}

type groupPos struct {
	at      time.Time
	offsets []position
}

// groupPositions answers where the mirror's groups stand on the source: read
// now for a planned failover, from the last checkpoints for a forced one.
func (e *Executor) groupPositions(ctx context.Context, pl *plan, m agentapi.Mirror, cps []agentapi.GroupCheckpoints) (map[string]groupPos, error) {
	out := map[string]groupPos{}
	if pl.req.Mode == agentapi.ModeForced {
		for _, g := range cps {
			gp := groupPos{}
			for _, p := range g.Partitions {
				gp.offsets = append(gp.offsets, position{topic: p.Topic, partition: p.Partition, offset: p.SourceOffset, metadata: p.Metadata})
				if gp.at.IsZero() || p.CheckpointedAt.Before(gp.at) {
					gp.at = p.CheckpointedAt
				}
			}
			out[g.Group] = gp
		}
		return out, nil
	}
	sel, err := mirror.CompileSelector("groups", m.Groups)
	if err != nil {
		return nil, err
	}
	src, _, err := e.client(m.Source)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	adm := kadm.NewClient(src)
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups on %s: %w", m.Source, err)
	}
	var groups []string
	for _, g := range listed.Groups() {
		if !strings.HasPrefix(g, "__kfo") && sel.Matches(g) {
			groups = append(groups, g)
		}
	}
	now := time.Now().UTC()
	for g, resp := range adm.FetchManyOffsets(ctx, groups...) {
		if resp.Err != nil {
			return nil, fmt.Errorf("committed offsets of group %s on %s: %w", g, m.Source, resp.Err)
		}
		gp := groupPos{at: now}
		resp.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				gp.offsets = append(gp.offsets, position{topic: o.Topic, partition: o.Partition, offset: o.At, metadata: o.Metadata})
			}
		})
		out[g] = gp
	}
	return out, nil
}

// maxReasonBytes bounds the reason an aborted failover records.
const maxReasonBytes = 4096

// abort ends a failover without a flip. Its fence comes off while the state
// topic still has the failover under way, so that no new failover can have
// fenced the same topics in between; one that another replica ended
// already is left alone. It answers whether this call ended the failover.
func (e *Executor) abort(ctx context.Context, p agentapi.Policy, run agentapi.FailoverRun, result agentapi.Failover, log *slog.Logger) (bool, error) {
	if st, _ := e.Store.PolicyState(p.Name); st.InProgress == nil || st.InProgress.RequestID != run.RequestID {
		return false, nil
	}
	f := run.Fence
	var lift error
	if f == nil && run.Mode == agentapi.ModePlanned && p.Fencing == agentapi.FencingACL {
		if f, lift = e.unrecordedFence(ctx, p, run); lift != nil {
			log.Error("could not lift the fence", "cluster", run.From, "error", lift)
		}
	}
	if f != nil {
		lift = e.liftFence(ctx, *f, log)
	}
	if lift != nil {
		result.Reason += "; " + lift.Error()
	}
	if err := e.revokeGrants(ctx, run, log); err != nil {
		result.Reason += "; " + err.Error()
	}
	if len(result.Reason) > maxReasonBytes {
		// Errors quote what they were given: the abort must fit in a record.
		result.Reason = strings.ToValidUTF8(result.Reason[:maxReasonBytes], "") + "..."
	}
	applied, err := e.Store.AppendOp(ctx, policy.Op{Kind: policy.OpAbort, Policy: p.Name, Generation: p.CreatedAt, RequestID: run.RequestID, Result: &result})
	if err != nil || applied || f == nil && len(run.Grants) == 0 {
		return applied, err
	}
	// The executor completed the flip meanwhile: the old active cluster is a
	// standby now and stays fenced, and the new one keeps its grants.
	if st, _ := e.Store.PolicyState(p.Name); st.Results[run.RequestID].Outcome == agentapi.OutcomeCompleted {
		if len(run.Grants) > 0 {
			if cl, _, err := e.client(run.To); err == nil {
				grant(ctx, cl, run.Grants, log)
				cl.Close()
			}
		}
		if f == nil {
			return false, nil
		}
		cl, _, err := e.client(f.Cluster)
		if err == nil {
			defer cl.Close()
			err = fence(ctx, cl, *f)
		}
		if err != nil {
			return false, fmt.Errorf("the failover completed while it was being aborted, and the fence on the old active cluster %s could not be put back: %w", f.Cluster, err)
		}
		log.Warn("the failover completed while it was being aborted; its fence is back on the old active cluster", "cluster", f.Cluster, "acls", f.Denied())
	}
	return false, nil
}

// unrecordedFence answers the fence of a failover begun by an agent that
// did not record it: every topic the mirrors to run.To match on run.From.
func (e *Executor) unrecordedFence(ctx context.Context, p agentapi.Policy, run agentapi.FailoverRun) (*agentapi.Fence, error) {
	var topics []string
	for _, mn := range p.Mirrors {
		m, err := e.Store.GetMirror(mn)
		if err != nil || m.Source != run.From || m.Target != run.To {
			continue
		}
		matching, err := e.matchingTopics(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("the fence on %s was not recorded and its topics cannot be listed (%w): remove the DENY Write ACLs of %s on the topics of mirror %s by hand", run.From, err, anyone, m.Name)
		}
		topics = append(topics, matching...)
	}
	slices.Sort(topics)
	f := legacyFence(run.From, slices.Compact(topics))
	return &f, nil
}

// Recover aborts failovers this replica left under way, when it stopped or
// when it could not record their outcome, and any whose executor has been
// silent for longer than they may take: a flip completes or is cleanly not
// done.
func (e *Executor) Recover(ctx context.Context, startedAt time.Time) {
	for _, name := range e.Store.Policies() {
		st, ok := e.Store.PolicyState(name)
		if !ok || st.InProgress == nil {
			continue
		}
		run := st.InProgress
		p, err := e.Store.GetPolicy(name)
		if err != nil {
			continue
		}
		drain := agentapi.DefaultDrainTimeout
		if d, err := time.ParseDuration(p.DrainTimeout); err == nil {
			drain = d
		}
		mine := run.Agent == e.AgentID && (run.StartedAt.Before(startedAt) || !e.runningHere(run.RequestID))
		stale := time.Since(run.StartedAt) > drain+2*time.Minute
		if !mine && !stale {
			continue
		}
		log := e.Log.With("policy", name, "request_id", run.RequestID)
		result := agentapi.Failover{Policy: name, RequestID: run.RequestID, From: run.From, To: run.To, Mode: run.Mode,
			Agent: e.AgentID, StartedAt: run.StartedAt, CompletedAt: time.Now().UTC(),
			Reason: "the agent running this failover stopped before it completed; nothing flipped: retry the request"}
		ended, err := e.abort(ctx, p, *run, result, log)
		if err != nil {
			log.Error("could not abort an interrupted failover", "error", err)
			continue
		}
		if !ended {
			continue // another replica ended it first
		}
		log.Warn("aborted a failover interrupted by an agent stop; nothing flipped")
	}
}
