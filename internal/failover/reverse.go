package failover

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/checkpoint"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/policy"
)

// Reverse prepares a cluster left behind by a forced failover to be a
// standby again. First its divergent tail, every record it holds past what
// was mirrored, is copied in one transaction to "<topic>.diverged" on the
// active cluster, so that nothing is dropped silently. Then its mirrored
// topics are rebuilt: deleted, so that the policy's mirror from the active
// cluster copies them again from the start. The same request id answers the
// first result; a repeated request finishes a rebuild that was cut short.
func (e *Executor) Reverse(ctx context.Context, name string, req agentapi.ReverseRequest) (agentapi.Quarantine, error) {
	defer e.lock(name)()
	p, err := e.Store.GetPolicy(name)
	if err != nil {
		return agentapi.Quarantine{}, refuse(http.StatusNotFound, "", "no policy named %q", name)
	}
	st, _ := e.Store.PolicyState(name)
	if req.RequestID == "" {
		return agentapi.Quarantine{}, refuse(http.StatusBadRequest, "request_id", "required: a unique id for this request, so that a retry copies only once")
	}
	for _, q := range st.Quarantines {
		if q.RequestID != req.RequestID {
			continue
		}
		if req.Cluster != "" && req.Cluster != q.Cluster {
			return agentapi.Quarantine{}, refuse(http.StatusConflict, "request_id", "request %s reconciled %s; a repeated request_id must name the same cluster, or none: send a new request_id to reconcile %s", req.RequestID, q.Cluster, req.Cluster)
		}
		epoch, diverged := st.Diverged[q.Cluster]
		switch {
		case !diverged:
			return q, nil // done before: the first answer
		case epoch != q.DivergedEpoch:
			return agentapi.Quarantine{}, refuse(http.StatusConflict, "request_id", "request %s reconciled an earlier divergence of %s (left behind at epoch %d); it was left behind again at epoch %d: send a new request_id to quarantine its new tail", req.RequestID, q.Cluster, q.DivergedEpoch, epoch)
		}
		req.Cluster = q.Cluster // its tail is quarantined; the rebuild is finished below
	}
	if req.Cluster == "" && len(st.Diverged) == 1 {
		for c := range st.Diverged {
			req.Cluster = c
		}
	}
	epoch, diverged := st.Diverged[req.Cluster]
	if !diverged {
		if q, ok := st.LastQuarantine(req.Cluster); ok {
			return q, nil // done before: the first answer
		}
		return agentapi.Quarantine{}, refuse(http.StatusConflict, "cluster", "cluster %q was not left behind by a forced failover of policy %s: it holds no divergent tail", req.Cluster, name)
	}
	if st.InProgress != nil {
		return agentapi.Quarantine{}, refuse(http.StatusConflict, "", "a failover of policy %s is under way: wait for it to end", name)
	}
	if err := e.reachable(ctx, req.Cluster); err != nil {
		return agentapi.Quarantine{}, refuse(http.StatusConflict, "cluster", "%s does not answer (%v): its tail can be quarantined once it is back", req.Cluster, err)
	}
	var mirrors, reverse []agentapi.Mirror
	for _, mn := range p.Mirrors {
		m, err := e.Store.GetMirror(mn)
		switch {
		case err != nil:
		case m.Source == req.Cluster && m.Target == st.Active:
			mirrors = append(mirrors, m)
		case m.Source == st.Active && m.Target == req.Cluster:
			reverse = append(reverse, m)
		}
	}
	if len(reverse) == 0 {
		return agentapi.Quarantine{}, refuse(http.StatusConflict, "cluster", "policy %s has no mirror from %s to %s: declare one (and add it to the policy's mirrors) so that %s can be rebuilt as a standby", name, st.Active, req.Cluster, req.Cluster)
	}
	for _, r := range reverse {
		if r.StartFrom == agentapi.StartLatest {
			return agentapi.Quarantine{}, refuse(http.StatusConflict, "cluster", "mirror %s starts from latest: a rebuilt standby needs every record, set its start_from to earliest", r.Name)
		}
	}
	if q, ok := st.Quarantine(req.Cluster); ok {
		// This divergence was quarantined before, the rebuild was cut
		// short: finish it.
		return q, e.rebuild(ctx, p.Name, p.CreatedAt, req, epoch, st.Active, mirrors, reverse)
	}
	q := agentapi.Quarantine{Policy: name, Cluster: req.Cluster, Active: st.Active, RequestID: req.RequestID, DivergedEpoch: epoch, Partitions: []agentapi.QuarantinedPartition{}}
	for _, m := range mirrors {
		parts, err := e.quarantine(ctx, m, name, req.Cluster, st.Active, epoch)
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
		if done, ok := st.Quarantine(req.Cluster); ok && done.DivergedEpoch == epoch {
			return done, nil
		}
		return agentapi.Quarantine{}, refuse(http.StatusConflict, "", "the policy changed while the tail was copied: read it and retry")
	}
	e.Log.Info("divergent tail quarantined", "policy", name, "cluster", req.Cluster, "diverged_epoch", epoch, "records", q.Records)
	return q, e.rebuild(ctx, name, p.CreatedAt, req, epoch, st.Active, mirrors, reverse)
}

// rebuild deletes the returned cluster's mirrored topics and the offset
// syncs and checkpoints that described them. Its offsets will differ from
// now on, so both directions' old mappings are void. Then the cluster is a
// standby again, and the reverse mirrors copy the active cluster into it
// from the start.
func (e *Executor) rebuild(ctx context.Context, name string, generation time.Time, req agentapi.ReverseRequest, epoch int64, active string, forward, reverse []agentapi.Mirror) error {
	old, _, err := e.client(req.Cluster)
	if err != nil {
		return err
	}
	defer old.Close()
	act, _, err := e.client(active)
	if err != nil {
		return err
	}
	defer act.Close()
	oldAdm, actAdm := kadm.NewClient(old), kadm.NewClient(act)
	listed, err := actAdm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("list topics on %s: %w", active, err)
	}
	var onOld, onActive []string
	for _, r := range reverse {
		sel, err := mirror.CompileSelector("topics", r.Topics)
		if err != nil {
			return err
		}
		for _, t := range listed.Sorted() {
			if !strings.HasPrefix(t.Topic, mirror.InternalPrefix) && !mirror.IsQuarantine(t.Topic) && sel.Matches(t.Topic) {
				onOld = append(onOld, mirror.TargetTopic(r.ReplicationPolicy, r.Source, t.Topic))
			}
		}
		onOld = append(onOld, offsetsync.Topic(r.Name), checkpoint.Topic(r.Name))
	}
	for _, m := range forward {
		onActive = append(onActive, offsetsync.Topic(m.Name), checkpoint.Topic(m.Name))
	}
	if err := deleteTopics(ctx, oldAdm, req.Cluster, onOld); err != nil {
		return err
	}
	if err := deleteTopics(ctx, actAdm, active, onActive); err != nil {
		return err
	}
	done := agentapi.Quarantine{Policy: name, Cluster: req.Cluster, Active: active, RequestID: req.RequestID, DivergedEpoch: epoch}
	applied, err := e.Store.AppendOp(ctx, policy.Op{Kind: policy.OpRebuilt, Policy: name, Generation: generation, RequestID: req.RequestID, Quarantine: &done})
	if err != nil {
		return err
	}
	if st, _ := e.Store.PolicyState(name); !applied && st.Diverged[req.Cluster] == epoch {
		// Still this divergence, not rebuilt by another replica either.
		return refuse(http.StatusConflict, "", "%s's topics were deleted but its rebuild could not be recorded (a failover of policy %s may be under way): repeat the request", req.Cluster, name)
	}
	e.Log.Info("returned cluster rebuilt as a standby", "policy", name, "cluster", req.Cluster, "topics_deleted", len(onOld))
	return nil
}

// deleteTopics deletes topics; one already gone is fine.
func deleteTopics(ctx context.Context, adm *kadm.Client, cluster string, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	resps, err := adm.DeleteTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("delete topics on %s: %w", cluster, err)
	}
	for _, r := range resps {
		if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("delete topic %s on %s: %w", r.Topic, cluster, r.Err)
		}
	}
	return nil
}

// quarantine copies one mirror's divergent tail, all partitions in one
// transaction: a failure leaves nothing half-written. epoch is the
// divergence's: the forced failover's that left from behind.
func (e *Executor) quarantine(ctx context.Context, m agentapi.Mirror, policyName, from, to string, epoch int64) ([]agentapi.QuarantinedPartition, error) {
	old, _, err := e.client(from)
	if err != nil {
		return nil, err
	}
	defer old.Close()
	_, dstOpts, err := e.client(to)
	if err != nil {
		return nil, err
	}
	idx, err := mirror.FinalSyncs(ctx, dstOpts, m)
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
		if strings.HasPrefix(t.Topic, mirror.InternalPrefix) || t.Err != nil || mirror.IsQuarantine(t.Topic) || !sel.Matches(t.Topic) {
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
		tail = append(tail, agentapi.QuarantinedPartition{Topic: o.Topic, QuarantineTopic: target + mirror.QuarantineSuffix, Partition: o.Partition, FromOffset: from, ToOffset: o.Offset})
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
	// One transaction for the whole tail, with a timeout longer than the
	// read's deadline below, so that the coordinator never aborts it first.
	dst, _, err := e.client(to, kgo.TransactionalID("__kfo_quarantine."+policyName+"."+from), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(6*time.Minute))
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	dstAdm := kadm.NewClient(dst)
	for _, qp := range tail {
		if err := ensureQuarantineTopic(ctx, dstAdm, qp.QuarantineTopic, partitions[qp.Topic]); err != nil {
			return nil, fmt.Errorf("quarantine topic %s on %s: %w", qp.QuarantineTopic, to, err)
		}
	}

	// An earlier attempt may have committed its copy and died before
	// OpQuarantine was recorded: resume after what it left, and count it,
	// so that a retry neither duplicates records nor under-reports them.
	// Fencing the transactional id first makes what it left final.
	if _, _, err := dst.ProducerID(ctx); err != nil {
		return nil, fmt.Errorf("fence an earlier quarantine of %s on %s: %w", from, to, err)
	}
	before, err := quarantinedBefore(ctx, dstOpts, from, epoch, tail)
	if err != nil {
		return nil, err
	}
	consume := map[string]map[int32]kgo.Offset{}
	pending := map[tpKey]*agentapi.QuarantinedPartition{}
	for i := range tail {
		qp := &tail[i]
		next := qp.FromOffset
		if b, ok := before[tpKey{qp.Topic, qp.Partition}]; ok {
			qp.Records, next = b.records, b.last+1
			e.Log.Info("an earlier attempt quarantined part of the tail; resuming after it", "policy", policyName, "mirror", m.Name,
				"cluster", from, "topic", qp.Topic, "partition", qp.Partition, "records", b.records, "last_offset", b.last)
		}
		if next >= qp.ToOffset {
			continue
		}
		if consume[qp.Topic] == nil {
			consume[qp.Topic] = map[int32]kgo.Offset{}
		}
		consume[qp.Topic][qp.Partition] = kgo.NewOffset().At(next)
		pending[tpKey{qp.Topic, qp.Partition}] = qp
	}
	if len(pending) == 0 {
		return tail, nil
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
				headers := append(append([]kgo.RecordHeader{}, r.Headers...), copyHeaders(from, epoch, r.Offset)...)
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

// The headers a quarantined record carries last, in this order: the cluster
// it diverged on, the divergence (the epoch of the forced failover that left
// that cluster behind), and its offset there.
const (
	headerCluster = "kfo.diverged.cluster"
	headerEpoch   = "kfo.diverged.epoch"
	headerOffset  = "kfo.diverged.offset"
)

func copyHeaders(cluster string, epoch, offset int64) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: headerCluster, Value: []byte(cluster)},
		{Key: headerEpoch, Value: []byte(strconv.FormatInt(epoch, 10))},
		{Key: headerOffset, Value: []byte(strconv.FormatInt(offset, 10))},
	}
}

// copied is what an earlier attempt committed of one partition's tail: its
// last source offset and how many records.
type copied struct{ last, records int64 }

// quarantinedBefore finds, per partition of tail, what earlier attempts
// committed to its quarantine topic: the run of records at the partition's
// end from cluster from's divergence epoch with source offsets in the tail,
// rising. A record of an earlier divergence of the same cluster ends the
// run: its offsets may fall inside this tail, but it is another record.
// Only the end is read, widened until the run starts inside it.
func quarantinedBefore(ctx context.Context, opts []kgo.Opt, from string, epoch int64, tail []agentapi.QuarantinedPartition) (map[tpKey]copied, error) {
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	var topics []string
	for _, qp := range tail {
		topics = append(topics, qp.QuarantineTopic)
	}
	slices.Sort(topics)
	topics = slices.Compact(topics)
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("start offsets of the quarantine: %w", err)
	}
	// The last stable offsets: read_committed sees nothing past them.
	ends, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("end offsets of the quarantine: %w", err)
	}
	type scan struct {
		qp                *agentapi.QuarantinedPartition
		start, end, width int64
	}
	scans := map[tpKey]*scan{} // by quarantine topic and partition
	for i := range tail {
		qp := &tail[i]
		s, okS := starts.Lookup(qp.QuarantineTopic, qp.Partition)
		e, okE := ends.Lookup(qp.QuarantineTopic, qp.Partition)
		if !okS || !okE || s.Err != nil || e.Err != nil {
			return nil, fmt.Errorf("offsets of %s[%d]: %v %v", qp.QuarantineTopic, qp.Partition, s.Err, e.Err)
		}
		if e.Offset > s.Offset {
			scans[tpKey{qp.QuarantineTopic, qp.Partition}] = &scan{qp: qp, start: s.Offset, end: e.Offset, width: 64}
		}
	}
	out := map[tpKey]copied{}
	for len(scans) > 0 {
		spans := map[tpKey]span{}
		for k, s := range scans {
			spans[k] = span{lo: max(s.start, s.end-s.width), end: s.end}
		}
		// Only each record's origin is kept, not the record: a tail can be
		// millions of records.
		recs, err := readCommitted(ctx, opts, spans, func(r *kgo.Record) int64 {
			if off, ok := divergedAt(r, from, epoch); ok {
				return off
			}
			return -1
		})
		if err != nil {
			return nil, err
		}
		for k, s := range scans {
			qp, run, next := s.qp, copied{last: -1}, s.qp.ToOffset
			whole := true // every record read belongs to the run
			for i := len(recs[k]) - 1; i >= 0; i-- {
				off := recs[k][i]
				if off < 0 || off < qp.FromOffset || off >= next {
					whole = false
					break
				}
				if run.last < 0 {
					run.last = off
				}
				run.records++
				next = off
			}
			if whole && spans[k].lo > s.start {
				s.width *= 4 // the run may go on below what was read
				continue
			}
			if run.records > 0 {
				out[tpKey{qp.Topic, qp.Partition}] = run
			}
			delete(scans, k)
		}
	}
	return out, nil
}

// divergedAt answers the source offset a quarantined record was copied
// from, if it was copied from cluster in its divergence epoch. Only the last
// three headers are the copy's own: a copy without the epoch (made before
// divergences had one) or of another divergence does not count.
func divergedAt(r *kgo.Record, cluster string, epoch int64) (int64, bool) {
	h := r.Headers
	if len(h) < 3 {
		return 0, false
	}
	c, ep, o := h[len(h)-3], h[len(h)-2], h[len(h)-1]
	if c.Key != headerCluster || ep.Key != headerEpoch || o.Key != headerOffset ||
		string(c.Value) != cluster || string(ep.Value) != strconv.FormatInt(epoch, 10) {
		return 0, false
	}
	off, err := strconv.ParseInt(string(o.Value), 10, 64)
	return off, err == nil
}

// span is the offsets [lo, end) of a partition.
type span struct{ lo, end int64 }

// readCommitted reads the committed records of partitions' spans, markers
// left out, and answers keep(record) for each, in offset order.
func readCommitted(ctx context.Context, opts []kgo.Opt, spans map[tpKey]span, keep func(*kgo.Record) int64) (map[tpKey][]int64, error) {
	consume := map[string]map[int32]kgo.Offset{}
	want := map[tpKey]int64{} // partition -> end, until read to it
	for k, s := range spans {
		if s.lo >= s.end {
			continue
		}
		if consume[k.topic] == nil {
			consume[k.topic] = map[int32]kgo.Offset{}
		}
		consume[k.topic][k.partition] = kgo.NewOffset().At(s.lo)
		want[k] = s.end
	}
	out := map[tpKey][]int64{}
	if len(want) == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(consume),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // a partition that ends in a marker is read to its end
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	// As long as the copy itself may take: the span can be its size.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for len(want) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("read the quarantine's end: %w", ctx.Err())
		}
		if err := fetches.Err0(); err != nil {
			return nil, fmt.Errorf("read the quarantine's end: %w", err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			k := tpKey{r.Topic, r.Partition}
			end, ok := want[k]
			if !ok || r.Offset >= end {
				return
			}
			if !r.Attrs.IsControl() {
				out[k] = append(out[k], keep(r))
			}
			if r.Offset+1 >= end {
				delete(want, k)
			}
		})
	}
	return out, nil
}

// ensureQuarantineTopic makes topic hold partitions partitions and keep its
// records until someone deletes them. The records keep their original
// timestamps, so under a time-based retention the tail of a cluster that
// came back late would expire as soon as it was quarantined. A topic left by
// an earlier divergence may have fewer partitions than the source has now.
func ensureQuarantineTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	if err := mirror.EnsureTopicPartitions(ctx, adm, topic, partitions, false); err != nil {
		return err
	}
	forever := "-1"
	alter, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &forever}}, topic)
	if err == nil {
		var r kadm.AlterConfigsResponse
		if r, err = alter.On(topic, nil); err == nil {
			err = r.Err
		}
	}
	if err != nil {
		return fmt.Errorf("keep its records (retention.ms -1): %w", err)
	}
	return nil
}
