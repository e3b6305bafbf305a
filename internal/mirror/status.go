package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
	"github.com/kafka-failover/kafka-failover/internal/store"
	"github.com/kafka-failover/kafka-failover/internal/undecodable"
)

// StatusTopic carries the replicas' task status; compacted by partition so
// it holds the latest word on each mirrored partition.
const StatusTopic = "__kfo_status"

// staleAfter is how long a published partition status stays believed.
const staleAfter = 15 * time.Second

// Board publishes this replica's task status and tails everyone's, so any
// replica can answer the status of any mirror.
type Board struct {
	cl *kgo.Client
	// Format answers the record format version to write (store.Store.Format);
	// nil writes recordformat.First.
	Format func() int

	mu     sync.Mutex
	parts  map[string]agentapi.PartitionStatus // key: mirror/topic/partition
	ends   map[string]End                      // key: mirror/topic/partition
	errors map[string]string                   // mirror -> last refresh error
	// replicas are the replicas' announcements, by agent.
	replicas map[string]recordformat.Announcement
	// next is the offset after the last record read; end is the topic's
	// end when ReadToEnd first learned it, -1 before.
	next, end int64
}

// replicaPrefix keys a replica's announcement; a NUL is in no mirror name,
// so it cannot be taken for a partition's status.
const replicaPrefix = "\x00replica/"

// endPrefix keys the source end offsets that runners watch, apart from
// their tasks' status.
const endPrefix = "end/"

// OpenBoard connects to the state cluster and starts tailing the status topic.
func OpenBoard(ctx context.Context, state kafkaconn.Conn) (*Board, error) {
	opts, err := kafkaconn.Opts(state)
	if err != nil {
		return nil, err
	}
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	err = store.EnsureCompactedTopic(ctx, kadm.NewClient(admin), StatusTopic, 1)
	admin.Close()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{StatusTopic: {0: kgo.NewOffset().AtStart()}}),
		kgo.DefaultProduceTopic(StatusTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)...)
	if err != nil {
		return nil, err
	}
	b := newBoard()
	b.cl = cl
	go b.tail(ctx)
	return b, nil
}

// newBoard is a board that knows nothing yet and reads no topic.
func newBoard() *Board {
	return &Board{parts: map[string]agentapi.PartitionStatus{}, ends: map[string]End{}, errors: map[string]string{}, replicas: map[string]recordformat.Announcement{}, end: -1}
}

// Close stops the board.
func (b *Board) Close() { b.cl.Close() }

func (b *Board) tail(ctx context.Context) {
	for ctx.Err() == nil {
		b.cl.PollFetches(ctx).EachRecord(b.apply)
	}
}

func (b *Board) apply(r *kgo.Record) {
	key := string(r.Key)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next = r.Offset + 1
	if !undecodable.Known(r) {
		return // counted, and /readyz fails
	}
	if k, ok := strings.CutPrefix(key, replicaPrefix); ok {
		var a recordformat.Announcement
		if r.Value == nil {
			delete(b.replicas, k)
		} else if undecodable.JSON(r, &a) {
			b.replicas[k] = a
		}
		return
	}
	if strings.HasPrefix(key, "error/") {
		b.errors[strings.TrimPrefix(key, "error/")] = string(r.Value)
		return
	}
	if k, ok := strings.CutPrefix(key, endPrefix); ok {
		var e End
		if r.Value != nil && undecodable.JSON(r, &e) && e.ObservedAt.After(b.ends[k].ObservedAt) {
			b.ends[k] = e
		}
		return
	}
	var p agentapi.PartitionStatus
	if r.Value == nil || !undecodable.JSON(r, &p) {
		delete(b.parts, key)
		return
	}
	// A task that took the partition over has not fetched it yet: what
	// its last owner saw still stands.
	last := b.parts[key]
	b.parts[key] = withEnd(keepPosition(p, last), endOf(last))
}

// keepPosition answers p, the status of a partition whose task may be
// starting, with the position last published for it: a starting task knows
// none yet, and a -1 over its last owner's would read, in a forced
// failover's report, as everything lost.
func keepPosition(p, last agentapi.PartitionStatus) agentapi.PartitionStatus {
	if p.Starting && last.LastMirroredOffset > p.LastMirroredOffset {
		p.LastMirroredOffset = last.LastMirroredOffset
	}
	return p
}

// Publish writes the status of this replica's partitions of a mirror.
func (b *Board) Publish(ctx context.Context, mirror string, parts []agentapi.PartitionStatus, refreshErr string) {
	recs := make([]*kgo.Record, 0, len(parts)+1)
	for _, p := range parts {
		b.mu.Lock() // the record itself keeps the position, whatever compaction leaves
		p = keepPosition(p, b.parts[partKey(mirror, p.Topic, p.Partition)])
		b.mu.Unlock()
		v, _ := json.Marshal(p)
		recs = append(recs, &kgo.Record{Key: []byte(partKey(mirror, p.Topic, p.Partition)), Value: v})
	}
	recs = append(recs, &kgo.Record{Key: []byte("error/" + mirror), Value: []byte(refreshErr)})
	for _, r := range recs {
		b.produce(ctx, r)
	}
}

func (b *Board) produce(ctx context.Context, r *kgo.Record) {
	v := recordformat.First
	if b.Format != nil {
		v = b.Format()
	}
	recordformat.Stamp(r, v)
	// Every publisher shares the client, and franz-go fails all buffered
	// records of a partition when one record's context ends: a runner
	// stopping must not drop the others' status (see store.writeRecord).
	if ctx.Err() == nil {
		b.cl.Produce(context.WithoutCancel(ctx), r, nil)
	}
}

// Announce publishes what this replica says of itself.
func (b *Board) Announce(ctx context.Context, a recordformat.Announcement) {
	v, _ := json.Marshal(a)
	b.produce(ctx, &kgo.Record{Key: []byte(replicaPrefix + a.Agent), Value: v})
}

// ReadToEnd reports whether the board has read the status topic up to the
// end it had when first asked: only then does it know every replica that
// announced itself within recordformat.LiveWithin.
func (b *Board) ReadToEnd(ctx context.Context) (bool, error) {
	b.mu.Lock()
	end, next := b.end, b.next
	b.mu.Unlock()
	if end < 0 {
		ends, err := kadm.NewClient(b.cl).ListEndOffsets(ctx, StatusTopic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return false, fmt.Errorf("end of %s: %w", StatusTopic, err)
		}
		o, _ := ends.Lookup(StatusTopic, 0)
		end = o.Offset
		b.mu.Lock()
		b.end = end
		b.mu.Unlock()
	}
	return next >= end, nil
}

// ForgetReplica deletes the announcement of a replica gone for good, so
// that the status topic does not keep one per replica ever started.
func (b *Board) ForgetReplica(ctx context.Context, agent string) {
	b.produce(ctx, &kgo.Record{Key: []byte(replicaPrefix + agent)})
}

// Replicas answers every replica's last announcement, sorted by agent.
func (b *Board) Replicas() []recordformat.Announcement {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]recordformat.Announcement, 0, len(b.replicas))
	for _, a := range b.replicas {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Agent < out[j].Agent })
	return out
}

// TaskMembers answers the group.instance.id of every member of the task
// groups on the state cluster: the replicas running mirrors, whether or
// not they announce themselves.
func (b *Board) TaskMembers(ctx context.Context) ([]string, error) {
	adm := kadm.NewClient(b.cl)
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the task groups: %w", err)
	}
	var groups []string
	for _, g := range listed.Groups() {
		if strings.HasPrefix(g, TasksGroup("")) {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return nil, nil
	}
	described, err := adm.DescribeGroups(ctx, groups...)
	if err == nil {
		err = described.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("describe the task groups: %w", err)
	}
	var out []string
	for _, g := range described.Sorted() {
		for _, m := range g.Members {
			id := m.MemberID // a dynamic member: no build of this agent joins as one
			if m.InstanceID != nil {
				id = *m.InstanceID
			}
			out = append(out, id)
		}
	}
	return out, nil
}

// PublishEnds writes the source end offsets this replica observed.
func (b *Board) PublishEnds(ctx context.Context, mirror string, ends []End) {
	for _, e := range ends {
		v, _ := json.Marshal(e)
		b.produce(ctx, &kgo.Record{Key: []byte(endPrefix + partKey(mirror, e.Topic, e.Partition)), Value: v})
	}
}

// Forget drops what this replica knows of a deleted or restarted mirror.
// The source's ends stay: they are last observations, and a forced
// failover reports against them.
func (b *Board) Forget(mirror string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.parts {
		if strings.HasPrefix(k, mirror+"/") {
			delete(b.parts, k)
		}
	}
}

func partKey(mirror, topic string, partition int32) string {
	return mirror + "/" + topic + "/" + itoa32(partition)
}

func itoa32(i int32) string { return strconv.Itoa(int(i)) }

// Status answers the mirror's partitions, sorted, with the overall state.
func (b *Board) Status(mirror string) agentapi.MirrorStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	st := agentapi.MirrorStatus{Name: mirror, State: agentapi.MirrorStarting, Partitions: []agentapi.PartitionStatus{}}
	st.Reason = b.errors[mirror]
	failed := st.Reason != ""
	started := false
	for k, p := range b.parts {
		if !strings.HasPrefix(k, mirror+"/") || now.Sub(p.UpdatedAt) > staleAfter {
			continue
		}
		p = withEnd(p, b.ends[k])
		st.Partitions = append(st.Partitions, p)
		st.LagRecords += p.LagRecords
		started = started || !p.Starting
		if p.Error != "" {
			failed = true
		}
	}
	sort.Slice(st.Partitions, func(i, j int) bool {
		a, c := st.Partitions[i], st.Partitions[j]
		if a.Topic != c.Topic {
			return a.Topic < c.Topic
		}
		return a.Partition < c.Partition
	})
	switch {
	case failed:
		st.State = agentapi.MirrorFailed
	case started:
		st.State = agentapi.MirrorRunning
	}
	return st
}

// copiedWithin is how recent a partition's status must be, and free of
// error, for its partition to count as copied: a few of the replicas'
// one-second publications.
const copiedWithin = 5 * time.Second

// notCopied answers how many of a mirror's partitions no task copies as of
// now, and the earliest time one of them was last reported copied (zero
// when none of them ever was).
func (b *Board) notCopied(mirror string, parts []SourcePartition, now time.Time) (n int, lastCopied time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, sp := range parts {
		p, ok := b.parts[partKey(mirror, sp.Topic, sp.Partition)]
		if ok && p.Error == "" && !p.Starting && now.Sub(p.UpdatedAt) <= copiedWithin {
			continue
		}
		n++
		if ok && p.Error == "" && !p.Starting && (lastCopied.IsZero() || p.UpdatedAt.Before(lastCopied)) {
			lastCopied = p.UpdatedAt
		}
	}
	return n, lastCopied
}

// LastSeen answers every partition of a mirror as last published, however
// old: after a region is lost its tasks publish nothing new, and what they
// last saw of it is what a forced failover reports against. The status
// topic is compacted and read from its start, so this survives restarts.
// The source's watched ends complete it, also for partitions no task has
// published.
func (b *Board) LastSeen(mirror string, local []End) []agentapi.PartitionStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	byKey := map[string]agentapi.PartitionStatus{}
	for k, p := range b.parts {
		if strings.HasPrefix(k, mirror+"/") {
			byKey[k] = p
		}
	}
	merge := func(k string, e End) {
		p, ok := byKey[k]
		if !ok {
			p = agentapi.PartitionStatus{Topic: e.Topic, TargetTopic: e.TargetTopic, Partition: e.Partition, LastMirroredOffset: -1, SourceHighWatermark: -1}
		}
		byKey[k] = withEnd(p, e)
	}
	for k, e := range b.ends {
		if strings.HasPrefix(k, mirror+"/") {
			merge(k, e)
		}
	}
	for _, e := range local {
		merge(partKey(mirror, e.Topic, e.Partition), e)
	}
	out := make([]agentapi.PartitionStatus, 0, len(byKey))
	for _, p := range byKey {
		out = append(out, p)
	}
	return out
}
