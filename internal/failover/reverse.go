package failover

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/policy"
)

// QuarantineSuffix names the topic on the active cluster that holds a
// returned cluster's divergent tail: "<target topic>.diverged".
const QuarantineSuffix = ".diverged"

// Reverse quarantines the divergent tail of a cluster left behind by a
// forced failover: every record it holds past what was mirrored is copied,
// in one transaction, to "<topic>.diverged" on the active cluster, so that
// nothing is dropped silently. The same request id answers the first result.
func (e *Executor) Reverse(ctx context.Context, name string, req agentapi.ReverseRequest) (agentapi.Quarantine, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.Store.GetPolicy(name)
	if err != nil {
		return agentapi.Quarantine{}, refuse(http.StatusNotFound, "", "no policy named %q", name)
	}
	st, _ := e.Store.PolicyState(name)
	if req.RequestID == "" {
		return agentapi.Quarantine{}, refuse(http.StatusBadRequest, "request_id", "required: a unique id for this request, so that a retry copies only once")
	}
	if req.Cluster == "" && len(st.Diverged) == 1 {
		for c := range st.Diverged {
			req.Cluster = c
		}
	}
	if q, ok := st.Quarantined[req.Cluster]; ok {
		return q, nil // done before: the first answer
	}
	if !st.Diverged[req.Cluster] {
		return agentapi.Quarantine{}, refuse(http.StatusConflict, "cluster", "cluster %q was not left behind by a forced failover of policy %s: it holds no divergent tail", req.Cluster, name)
	}
	if st.InProgress != nil {
		return agentapi.Quarantine{}, refuse(http.StatusConflict, "", "a failover of policy %s is under way: wait for it to end", name)
	}
	if err := e.reachable(ctx, req.Cluster); err != nil {
		return agentapi.Quarantine{}, refuse(http.StatusConflict, "cluster", "%s does not answer (%v): its tail can be quarantined once it is back", req.Cluster, err)
	}
	var mirrors []agentapi.Mirror
	for _, mn := range p.Mirrors {
		if m, err := e.Store.GetMirror(mn); err == nil && m.Source == req.Cluster && m.Target == st.Active {
			mirrors = append(mirrors, m)
		}
	}
	q := agentapi.Quarantine{Policy: name, Cluster: req.Cluster, Active: st.Active, RequestID: req.RequestID, Partitions: []agentapi.QuarantinedPartition{}}
	for _, m := range mirrors {
		parts, err := e.quarantine(ctx, m, name, req.Cluster, st.Active)
		if err != nil {
			return agentapi.Quarantine{}, err
		}
		q.Partitions = append(q.Partitions, parts...)
	}
	for _, qp := range q.Partitions {
		q.Records += qp.Records
	}
	q.CompletedAt = time.Now().UTC()
	applied, err := e.Store.AppendOp(ctx, policy.Op{Kind: policy.OpQuarantine, Policy: name, Generation: p.CreatedAt, RequestID: req.RequestID, Quarantine: &q})
	if err != nil {
		return agentapi.Quarantine{}, err
	}
	if !applied {
		// Another replica quarantined it first; its answer stands.
		st, _ = e.Store.PolicyState(name)
		if done, ok := st.Quarantined[req.Cluster]; ok {
			return done, nil
		}
		return agentapi.Quarantine{}, refuse(http.StatusConflict, "", "the policy changed while the tail was copied: read it and retry")
	}
	e.Log.Info("divergent tail quarantined", "policy", name, "cluster", req.Cluster, "records", q.Records)
	return q, nil
}

// quarantine copies one mirror's divergent tail, all partitions in one
// transaction: a failure leaves nothing half-written.
func (e *Executor) quarantine(ctx context.Context, m agentapi.Mirror, policyName, from, to string) ([]agentapi.QuarantinedPartition, error) {
	old, _, err := e.client(from)
	if err != nil {
		return nil, err
	}
	defer old.Close()
	_, dstOpts, err := e.client(to)
	if err != nil {
		return nil, err
	}
	idx, err := finalSyncs(ctx, dstOpts, m.Name)
	if err != nil {
		return nil, err
	}
	sel, err := mirror.CompileSelector("topics", m.Topics)
	if err != nil {
		return nil, err
	}
	oldAdm := kadm.NewClient(old)
	listed, err := oldAdm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics on %s: %w", from, err)
	}
	var topics []string
	partitions := map[string]int32{}
	for _, t := range listed.Sorted() {
		if strings.HasPrefix(t.Topic, mirror.InternalPrefix) || t.Err != nil || !sel.Matches(t.Topic) {
			continue
		}
		topics = append(topics, t.Topic)
		partitions[t.Topic] = int32(len(t.Partitions))
	}
	if len(topics) == 0 {
		return nil, nil
	}
	ends, err := oldAdm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("end offsets on %s: %w", from, err)
	}
	starts, err := oldAdm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("start offsets on %s: %w", from, err)
	}
	var tail []agentapi.QuarantinedPartition
	consume := map[string]map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		log := idx.Log(o.Topic, o.Partition)
		from := log.SourceNext()
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Offset > from {
			from = s.Offset // retention already removed what came before
		}
		if o.Offset <= from {
			return
		}
		target := mirror.TargetTopic(m.ReplicationPolicy, m.Source, o.Topic)
		tail = append(tail, agentapi.QuarantinedPartition{Topic: o.Topic, QuarantineTopic: target + QuarantineSuffix, Partition: o.Partition, FromOffset: from, ToOffset: o.Offset})
		if consume[o.Topic] == nil {
			consume[o.Topic] = map[int32]kgo.Offset{}
		}
		consume[o.Topic][o.Partition] = kgo.NewOffset().At(from)
	})
	if len(tail) == 0 {
		return nil, nil
	}
	sort.Slice(tail, func(i, j int) bool {
		if tail[i].Topic != tail[j].Topic {
			return tail[i].Topic < tail[j].Topic
		}
		return tail[i].Partition < tail[j].Partition
	})

	// The quarantine topics, with the source's partition count.
	dst, _, err := e.client(to, kgo.TransactionalID("__kfo_quarantine."+policyName+"."+from), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	dstAdm := kadm.NewClient(dst)
	for _, qp := range tail {
		resp, err := dstAdm.CreateTopic(ctx, partitions[qp.Topic], -1, nil, qp.QuarantineTopic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("create %s on %s: %w", qp.QuarantineTopic, to, err)
		}
	}

	reader, err := kgo.NewClient(append(old.Opts(),
		kgo.ConsumePartitions(consume),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // a tail that ends in a marker is read to its end
	)...)
	if err != nil {
		return nil, err
	}
	defer reader.Close()
	if err := dst.BeginTransaction(); err != nil {
		return nil, err
	}
	abort := func(cause error) ([]agentapi.QuarantinedPartition, error) {
		if dst.AbortBufferedRecords(ctx) == nil {
			_ = dst.EndTransaction(ctx, kgo.TryAbort)
		}
		return nil, cause
	}
	pending := map[tpKey]*agentapi.QuarantinedPartition{}
	for i := range tail {
		pending[tpKey{tail[i].Topic, tail[i].Partition}] = &tail[i]
	}
	var (
		mu         sync.Mutex
		produceErr error
	)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for len(pending) > 0 {
		fetches := reader.PollFetches(rctx)
		if rctx.Err() != nil {
			return abort(fmt.Errorf("read the divergent tail on %s: %w", from, rctx.Err()))
		}
		if err := fetches.Err0(); err != nil {
			return abort(fmt.Errorf("read the divergent tail on %s: %w", from, err))
		}
		fetches.EachRecord(func(r *kgo.Record) {
			qp, ok := pending[tpKey{r.Topic, r.Partition}]
			if !ok || r.Offset >= qp.ToOffset {
				return
			}
			if !r.Attrs.IsControl() {
				qp.Records++
				headers := append(append([]kgo.RecordHeader{}, r.Headers...),
					kgo.RecordHeader{Key: "kfo.diverged.cluster", Value: []byte(from)},
					kgo.RecordHeader{Key: "kfo.diverged.offset", Value: []byte(strconv.FormatInt(r.Offset, 10))})
				dst.Produce(rctx, &kgo.Record{Topic: qp.QuarantineTopic, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: headers, Timestamp: r.Timestamp},
					func(_ *kgo.Record, err error) {
						mu.Lock()
						defer mu.Unlock()
						if err != nil && produceErr == nil {
							produceErr = err
						}
					})
			}
			if r.Offset+1 >= qp.ToOffset {
				delete(pending, tpKey{r.Topic, r.Partition})
			}
		})
	}
	if err := dst.Flush(rctx); err != nil {
		return abort(err)
	}
	mu.Lock()
	err = produceErr
	mu.Unlock()
	if err != nil {
		return abort(fmt.Errorf("write the quarantine on %s: %w", to, err))
	}
	if err := dst.EndTransaction(rctx, kgo.TryCommit); err != nil {
		return nil, fmt.Errorf("commit the quarantine on %s: %w", to, err)
	}
	return tail, nil
}
