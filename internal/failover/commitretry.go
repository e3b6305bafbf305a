package failover

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/checkpoint"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
)

// A group whose translated offsets the new active refused during a failover
// is named in the report (commit_error, commit_retrying) and committed again
// after the flip until the commit succeeds or the group has live members
// there. What to retry is derived from durable state, so an agent that
// restarts picks it up: the current failover's report names the groups, and
// their offsets are translated again from the stopped mirror's stored
// checkpoints (forced) or the old active's committed offsets (planned) with
// its final offset syncs.

// commitRetries is the retry work of one agent replica.
type commitRetries struct {
	mu      sync.Mutex
	pending map[string]*commitRetry // by failover request id
	adopted map[string]bool         // request ids whose pending groups are known
	now     chan struct{}
}

// commitRetry is one failover's groups still to commit.
type commitRetry struct {
	policy, to string
	epoch      int64
	groups     map[string]kadm.Offsets
	why        map[string]string // the last refusal, logged when it changes
}

// Retry pacing: the first retries come fast, a refusal that lasts is asked
// again at most every maxRetryWait.
const (
	minRetryWait = time.Second
	maxRetryWait = 30 * time.Second
)

func (r *commitRetries) init() {
	if r.pending == nil {
		r.pending, r.adopted, r.now = map[string]*commitRetry{}, map[string]bool{}, make(chan struct{}, 1)
	}
}

// retryAfterFlip hands the groups a completed failover could not commit to
// the retry loop.
func (e *Executor) retryAfterFlip(policyName, requestID, to string, groups map[string]kadm.Offsets) {
	st, _ := e.Store.PolicyState(policyName)
	e.retries.mu.Lock()
	defer e.retries.mu.Unlock()
	e.retries.init()
	e.retries.adopted[requestID] = true
	if len(groups) == 0 {
		return
	}
	e.retries.pending[requestID] = &commitRetry{policy: policyName, to: to, epoch: st.Epoch, groups: groups, why: map[string]string{}}
	select {
	case e.retries.now <- struct{}{}:
	default:
	}
}

// RetryCommits commits again, until ctx ends, the translated offsets that
// failovers could not commit on the new active.
func (e *Executor) RetryCommits(ctx context.Context) {
	e.retries.mu.Lock()
	e.retries.init()
	now := e.retries.now
	e.retries.mu.Unlock()
	wait := minRetryWait
	for {
		if e.retryRound(ctx) {
			wait = min(2*wait, maxRetryWait)
		} else {
			wait = maxRetryWait // only to adopt what another replica left
		}
		select {
		case <-ctx.Done():
			return
		case <-now:
			wait = minRetryWait
		case <-time.After(wait):
		}
	}
}

// retryRound adopts what durable state says is to retry and tries each
// pending group once; it answers whether any group is still pending.
func (e *Executor) retryRound(ctx context.Context) bool {
	e.adoptRetries(ctx)
	e.retries.mu.Lock()
	work := map[string]*commitRetry{}
	for id, r := range e.retries.pending {
		work[id] = r
	}
	e.retries.mu.Unlock()
	left := false
	for id, r := range work {
		if st, _ := e.Store.PolicyState(r.policy); st.Epoch != r.epoch {
			e.dropRetry(id) // a later failover decides where the groups resume
			continue
		}
		dst, _, err := e.client(r.to)
		if err != nil {
			left = true
			continue
		}
		done := checkpoint.CommitIdleGroups(ctx, dst, r.groups)
		dst.Close()
		e.retries.mu.Lock()
		for g := range r.groups {
			log := e.Log.With("policy", r.policy, "request_id", id, "group", g, "cluster", r.to)
			switch why, failed := done.Failed[g]; {
			case failed:
				if r.why[g] != why {
					log.Warn("translated offsets of a failover still not committed; retrying", "reason", why)
					r.why[g] = why
				}
				left = true
			case done.Live[g] > 0:
				log.Info("the group is live on the new active; its offsets are left to it", "members", done.Live[g])
				delete(r.groups, g)
			default:
				log.Info("translated offsets of a failover committed after a retry")
				delete(r.groups, g)
			}
		}
		if len(r.groups) == 0 {
			delete(e.retries.pending, id)
		}
		e.retries.mu.Unlock()
	}
	return left
}

func (e *Executor) dropRetry(requestID string) {
	e.retries.mu.Lock()
	defer e.retries.mu.Unlock()
	delete(e.retries.pending, requestID)
}

// adoptRetries finds, for each policy, the failover that made its current
// active cluster, and translates again the offsets of the groups its report
// says are being retried. A failover whose offsets cannot be translated now
// is adopted in a later round.
func (e *Executor) adoptRetries(ctx context.Context) {
	for _, name := range e.Store.Policies() {
		st, ok := e.Store.PolicyState(name)
		if !ok {
			continue
		}
		for id, f := range st.Results {
			if f.Outcome != agentapi.OutcomeCompleted || f.Epoch != st.Epoch || f.Report == nil {
				continue
			}
			e.retries.mu.Lock()
			adopted := e.retries.adopted[id]
			e.retries.mu.Unlock()
			if adopted {
				continue
			}
			groups := map[string]bool{}
			for _, g := range f.Report.Groups {
				if g.CommitRetrying {
					groups[g.Group] = true
				}
			}
			offsets := map[string]kadm.Offsets{}
			if len(groups) > 0 {
				var err error
				if offsets, err = e.translateAgain(ctx, name, f, groups); err != nil {
					e.Log.Warn("offsets a failover could not commit cannot be translated again yet", "policy", name, "request_id", id, "error", err)
					continue
				}
			}
			e.retryAfterFlip(name, id, f.To, offsets)
		}
	}
}

// translateAgain translates the groups' offsets of a completed failover as
// it did: the same positions on the old active, the same final syncs.
func (e *Executor) translateAgain(ctx context.Context, policyName string, f agentapi.Failover, groups map[string]bool) (map[string]kadm.Offsets, error) {
	p, err := e.Store.GetPolicy(policyName)
	if err != nil {
		return nil, err
	}
	dst, dstOpts, err := e.client(f.To)
	if err != nil {
		return nil, err
	}
	dst.Close()
	pl := &plan{req: agentapi.FailoverRequest{Mode: f.Mode}}
	commits := map[string]kadm.Offsets{}
	for _, mn := range p.Mirrors {
		m, err := e.Store.GetMirror(mn)
		if err != nil || m.Source != f.From || m.Target != f.To {
			continue
		}
		idx, err := mirror.FinalSyncs(ctx, dstOpts, m)
		if err != nil {
			return nil, err
		}
		var cps []agentapi.GroupCheckpoints
		if f.Mode == agentapi.ModeForced {
			if cps, err = checkpoint.ReadStored(ctx, dstOpts, m.Name); err != nil {
				return nil, err
			}
		}
		positions, err := e.groupPositions(ctx, pl, m, cps)
		if err != nil {
			return nil, err
		}
		topics, err := mirror.CompileSelector("topics", m.Topics)
		if err != nil {
			return nil, err
		}
		targets := map[string]string{}
		for g, pos := range positions {
			if !groups[g] {
				delete(positions, g)
				continue
			}
			for _, o := range pos.offsets {
				if topics.Matches(o.topic) {
					targets[o.topic] = mirror.TargetTopic(m.ReplicationPolicy, m.Source, o.topic)
				}
			}
		}
		translateGroups(idx, targets, positions, commits, nil)
	}
	return commits, nil
}
