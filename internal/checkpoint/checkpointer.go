package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
)

// Checkpointer runs a mirror's checkpoint rounds. One agent replica runs it
// per mirror: the one that owns the mirror's task 0.
type Checkpointer struct {
	Mirror     agentapi.Mirror
	Groups     func(group string) bool  // the mirror's group selector
	Targets    func() map[string]string // mirrored source topic -> target topic
	Source     *kgo.Client              // reads groups and their offsets
	Target     *kgo.Client              // writes checkpoints, commits offsets
	Translator *Translator
	Metrics    *Metrics
	Log        *slog.Logger
	// Frozen answers why the mirror must not move anything on the target
	// now ("" when it may), read from the state topic up to now; nil:
	// never. A replica whose state lagged a failover would otherwise
	// commit offsets after the failover committed its own.
	Frozen func(context.Context) (string, error)
	// Format answers the record format version to write
	// (store.Store.Format); nil writes recordformat.First.
	Format func() int

	groups    []string
	groupsAt  time.Time
	prunedAt  time.Time
	written   map[string]map[tpKey]agentapi.PartitionCheckpoint // last stored, per group
	settled   map[string]bool                                   // nothing left to commit for the group
	groupErrs map[string]string
	counts    map[countKey]int64 // exact counts of unmirrored ranges, by range
}

type tpKey struct {
	topic     string
	partition int32
}

// RoundStats says what one round did.
type RoundStats struct {
	Groups      int // groups checkpointed
	Partitions  int // partitions translated
	Written     int // checkpoint records written (changed ones)
	Committed   int // partitions committed to groups on the target
	Misses      int // committed offsets with nothing mirrored to map them to
	GroupErrors int // groups that failed this round (retried next round)
}

// Run runs rounds every checkpoint_interval until ctx ends, and one at once
// when a look at the source's groups finds a new one.
func (c *Checkpointer) Run(ctx context.Context) {
	every := durationOr(c.Mirror.CheckpointInterval, agentapi.DefaultCheckpointInterval)
	t := time.NewTicker(every)
	defer t.Stop()
	look := time.NewTicker(agentapi.LookEvery(c.refreshInterval()))
	defer look.Stop()
	c.Metrics.translatorCaughtUp(c.Mirror.Name, c.Translator.Ready())
	if !c.Translator.Ready() {
		c.Log.Info("checkpoints wait until the translator has read the mirror's offset syncs up to their end")
	}
	round := func() {
		if _, err := c.Round(ctx); err != nil && ctx.Err() == nil {
			c.Log.Warn("checkpoint round failed; retrying at the next interval", "error", err)
		}
	}
	round()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			round()
		case <-look.C:
			if c.sawNewGroup(ctx) {
				round()
			}
		}
	}
}

func (c *Checkpointer) refreshInterval() time.Duration {
	return durationOr(c.Mirror.RefreshInterval, agentapi.DefaultRefreshInterval)
}

func durationOr(text string, def time.Duration) time.Duration {
	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 {
		return def
	}
	return d
}

// Round reads the selected groups' committed offsets on the source,
// translates them, stores what changed and commits to idle target groups.
func (c *Checkpointer) Round(ctx context.Context) (RoundStats, error) {
	var st RoundStats
	// A partial index translates committed offsets too low, and says so
	// as if it were exact once it has counted the gap on the source.
	if err := c.Translator.WaitCaughtUp(ctx); err != nil {
		return st, err
	}
	c.Metrics.translatorCaughtUp(c.Mirror.Name, true)
	if c.written == nil {
		c.written, c.settled, c.groupErrs = map[string]map[tpKey]agentapi.PartitionCheckpoint{}, map[string]bool{}, map[string]string{}
	}
	src, dst := kadm.NewClient(c.Source), kadm.NewClient(c.Target)
	if time.Since(c.prunedAt) >= pruneEvery {
		c.pruneBelowSourceStart(ctx, src)
	}
	if err := c.refreshGroups(ctx, src); err != nil {
		return st, err
	}
	if len(c.groups) == 0 {
		return st, nil
	}
	now := time.Now().UTC()
	targets := c.Targets()
	fetched := src.FetchManyOffsets(ctx, c.groups...)

	// Translate every committed offset of a mirrored topic.
	fresh := map[string]map[tpKey]agentapi.PartitionCheckpoint{}
	errs := map[string]string{}
	counted := map[countKey]int64{}
	starts := map[string]kadm.ListedOffsets{} // target log starts, asked once a round
	for _, group := range c.groups {
		resp, ok := fetched[group]
		if !ok || resp.Err != nil {
			errs[group] = fmt.Sprintf("read committed offsets on source %s: %v", c.Mirror.Source, errOr(resp.Err, "no answer"))
			continue
		}
		cps := map[tpKey]agentapi.PartitionCheckpoint{}
		resp.Fetched.Each(func(o kadm.OffsetResponse) {
			target, mirrored := targets[o.Topic]
			if !mirrored || o.Err != nil || o.At < 0 {
				return
			}
			log := c.Translator.Log(o.Topic, o.Partition)
			cp := log.TranslateCommitted(o.At)
			if !cp.OK && o.At == 0 {
				cp = c.fromTheStart(ctx, dst, starts, target, o.Partition)
				cp.Skipped = log.Skipped() // all of a gap is at or above 0
			}
			if !cp.OK {
				st.Misses++
				return
			}
			if !cp.Exact && cp.NotMirrored <= maxExactCount {
				cp.NotMirrored, cp.Exact = c.count(ctx, counted, countKey{o.Topic, o.Partition, log.SourceNext(), o.At}, cp.NotMirrored)
			}
			cps[tpKey{o.Topic, o.Partition}] = agentapi.PartitionCheckpoint{
				Topic: o.Topic, TargetTopic: target, Partition: o.Partition,
				SourceOffset: o.At, TargetOffset: cp.Target,
				NotMirrored: cp.NotMirrored, RecordsSkipped: cp.Skipped, Exact: cp.Exact && cp.Skipped == 0, Metadata: o.Metadata,
			}
		})
		fresh[group] = cps
		st.Partitions += len(cps)
	}
	if syncEnabled(c.Mirror) {
		// Asked as late as it can be, just before committing.
		why := ""
		if c.Frozen != nil {
			var err error
			if why, err = c.Frozen(ctx); err != nil {
				return st, err
			}
		}
		if why != "" {
			c.Log.Info("offsets not committed on the target: the mirror is frozen", "reason", why)
			return st, nil
		}
		st.Committed = c.syncTargets(ctx, dst, fresh, errs)
	}

	// Store what changed, and one heartbeat per group to say it is fresh.
	var recs []*kgo.Record
	for group, cps := range fresh {
		prev := c.written[group]
		for k, cp := range cps {
			if old, ok := prev[k]; ok && sameCheckpoint(old, cp) {
				continue
			}
			cp.CheckpointedAt = now
			v, _ := json.Marshal(Record{Group: group, PartitionCheckpoint: cp})
			recs = append(recs, &kgo.Record{Topic: Topic(c.Mirror.Name), Key: recordKey(group, k.topic, k.partition), Value: v})
			cps[k] = cp
		}
		for k, old := range prev {
			if _, ok := cps[k]; !ok {
				cps[k] = old // offsets the group no longer commits keep their last checkpoint
			}
		}
	}
	for _, group := range c.groups {
		v, _ := json.Marshal(Heartbeat{Group: group, At: now, Error: errs[group]})
		recs = append(recs, &kgo.Record{Topic: Topic(c.Mirror.Name), Key: heartbeatKey(group), Value: v})
	}
	format := recordformat.First
	if c.Format != nil {
		format = c.Format()
	}
	for _, r := range recs {
		recordformat.Stamp(r, format)
	}
	if err := c.Target.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return st, fmt.Errorf("store checkpoints on target %s: %w", c.Mirror.Target, err)
	}
	for group, cps := range fresh {
		c.written[group] = cps
	}
	st.Written = len(recs) - len(c.groups)
	st.Groups = len(fresh)
	st.GroupErrors = len(errs)
	for group, msg := range errs {
		if c.groupErrs[group] != msg {
			c.Log.Warn("checkpointing a group failed; the other groups carry on", "group", group, "error", msg)
		}
	}
	c.groupErrs = errs
	c.counts = counted // ranges no checkpoint needs any more are forgotten
	c.Metrics.round(c.Mirror.Name, st, c.groups, errs, now)
	return st, nil
}

// fromTheStart checkpoints a group that committed offset 0 of a partition
// with nothing mirrored yet (a partition that never had a record): it has
// read nothing, so it resumes at the first record on the target, its log
// start, whatever the mirror copies there later. Without a checkpoint a
// consumer there with auto.offset.reset=latest would start at the end after
// a failover and skip what producers wrote in the meantime.
func (c *Checkpointer) fromTheStart(ctx context.Context, dst *kadm.Client, starts map[string]kadm.ListedOffsets, topic string, partition int32) offsetsync.Checkpoint {
	listed, ok := starts[topic]
	if !ok {
		var err error
		if listed, err = dst.ListStartOffsets(ctx, topic); err != nil {
			listed = nil // unknown this round; the next round asks again
		}
		starts[topic] = listed
	}
	o, ok := listed.Lookup(topic, partition)
	if !ok || o.Err != nil {
		return offsetsync.Checkpoint{}
	}
	return offsetsync.Checkpoint{Target: o.Offset, Exact: true, OK: true}
}

// count answers the exact number of records in an unmirrored range, read
// once from the source and remembered while checkpoints need it; when the
// source cannot be read it answers the upper bound, not exact.
func (c *Checkpointer) count(ctx context.Context, counted map[countKey]int64, k countKey, upper int64) (int64, bool) {
	if n, ok := counted[k]; ok {
		return n, true
	}
	if n, ok := c.counts[k]; ok {
		counted[k] = n
		return n, true
	}
	n, ok := CountRecords(ctx, c.Source, k.topic, k.partition, k.from, k.to)
	if !ok {
		return upper, false
	}
	counted[k] = n
	return n, true
}

func errOr(err error, text string) error {
	if err != nil {
		return err
	}
	return errors.New(text)
}

func syncEnabled(m agentapi.Mirror) bool { return m.SyncGroupOffsets == nil || *m.SyncGroupOffsets }

// commitParallelism bounds the offset commits in flight on the target.
const commitParallelism = 16

// commitConcurrently commits each group's offsets and answers the groups
// whose commit failed.
func commitConcurrently(ctx context.Context, cl *kgo.Client, commits map[string]kadm.Offsets, ids map[string]kadm.TopicID) map[string]error {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		failed = map[string]error{}
		slots  = make(chan struct{}, commitParallelism)
	)
	for group, offsets := range commits {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := commitOffsets(ctx, cl, group, offsets, ids); err != nil {
				mu.Lock()
				failed[group] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

// topicIDs answers the ids of the topics the commits name.
func topicIDs(ctx context.Context, dst *kadm.Client, commits map[string]kadm.Offsets) (map[string]kadm.TopicID, error) {
	set := map[string]bool{}
	for _, offsets := range commits {
		for topic := range offsets {
			set[topic] = true
		}
	}
	topics := make([]string, 0, len(set))
	for t := range set {
		topics = append(topics, t)
	}
	details, err := dst.ListTopics(ctx, topics...)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]kadm.TopicID, len(details))
	for name, d := range details {
		if d.Err == nil && d.ID != (kadm.TopicID{}) {
			ids[name] = d.ID
		}
	}
	return ids, nil
}

// withoutUnknownTopics takes out of each group's commit the topics the target
// does not have (yet): one such topic would make the broker refuse the whole
// request, and the group's other partitions with it. It answers, per group,
// which topics wait for a later round.
func withoutUnknownTopics(commits map[string]kadm.Offsets, ids map[string]kadm.TopicID) map[string]string {
	waiting := map[string]string{}
	for g, offsets := range commits {
		var missing []string
		for topic := range offsets {
			if _, ok := ids[topic]; !ok {
				missing = append(missing, topic)
				delete(offsets, topic)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			waiting[g] = "not on the target yet: " + strings.Join(missing, ", ")
		}
		if len(offsets) == 0 {
			delete(commits, g)
		}
	}
	return waiting
}

// commitOffsets commits a group's offsets as a simple (member-less) commit.
// It sends OffsetCommit itself: kadm's CommitOffsets first asks for
// metadata on every call, which a thousand groups a round cannot afford.
// A group with live members refuses it, which is what we want.
func commitOffsets(ctx context.Context, cl *kgo.Client, group string, offsets kadm.Offsets, ids map[string]kadm.TopicID) error {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation = group, -1
	for topic, parts := range offsets {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = topic, ids[topic]
		for p, o := range parts {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, o.At, -1
			if o.Metadata != "" {
				rp.Metadata = kmsg.StringPtr(o.Metadata)
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("%s[%d]: %w", t.Topic, p.Partition, err)
			}
		}
	}
	return nil
}

// sameCheckpoint compares what a checkpoint says, not when it was made.
func sameCheckpoint(a, b agentapi.PartitionCheckpoint) bool {
	a.CheckpointedAt, b.CheckpointedAt = time.Time{}, time.Time{}
	return a == b
}

// pruneEvery is how often the translator drops what source retention
// removed.
const pruneEvery = time.Minute

// pruneBelowSourceStart drops the translator's runs that end below each
// source partition's log start: no group can read those records on the
// source any more (it would be reset to the log start), so their
// translation is never asked for, and the translator's memory is bounded by
// the source's retention rather than growing with the mirror's age.
func (c *Checkpointer) pruneBelowSourceStart(ctx context.Context, src *kadm.Client) {
	c.prunedAt = time.Now()
	var topics []string
	for t := range c.Targets() {
		topics = append(topics, t)
	}
	if len(topics) == 0 || c.Translator == nil {
		return
	}
	starts, err := src.ListStartOffsets(ctx, topics...)
	if err != nil {
		c.Log.Warn("source start offsets not read; the translator is pruned next time", "error", err)
		return
	}
	starts.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			c.Translator.Log(o.Topic, o.Partition).PruneBelow(o.Offset)
		}
	})
}

// refreshGroups lists the source's groups when the last list is older than
// refresh_interval; the looks of Run list them more often.
func (c *Checkpointer) refreshGroups(ctx context.Context, src *kadm.Client) error {
	if !c.groupsAt.IsZero() && time.Since(c.groupsAt) < c.refreshInterval() {
		return nil
	}
	groups, err := c.listGroups(ctx, src)
	if err != nil {
		return err
	}
	c.groups, c.groupsAt = groups, time.Now()
	return nil
}

// sawNewGroup lists the source's groups and answers whether a selected one
// appeared since the last list. A failed list answers false; the next
// round says why.
func (c *Checkpointer) sawNewGroup(ctx context.Context) bool {
	lctx, cancel := context.WithTimeout(ctx, c.refreshInterval())
	defer cancel()
	groups, err := c.listGroups(lctx, kadm.NewClient(c.Source))
	if err != nil {
		return false
	}
	appeared := slices.ContainsFunc(groups, func(g string) bool {
		_, known := slices.BinarySearch(c.groups, g)
		return !known
	})
	c.groups, c.groupsAt = groups, time.Now()
	return appeared
}

// listGroups answers the source's selected groups, sorted.
func (c *Checkpointer) listGroups(ctx context.Context, src *kadm.Client) ([]string, error) {
	listed, err := src.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups on source %s: %w", c.Mirror.Source, err)
	}
	var groups []string
	for _, g := range listed.Groups() {
		if !strings.HasPrefix(g, "__kfo") && c.Groups(g) {
			groups = append(groups, g)
		}
	}
	sort.Strings(groups)
	return groups, nil
}

// syncTargets commits translated offsets to the same groups on the target,
// but only to groups without live members there, and backwards only where
// the source group itself went back. It
// marks each checkpoint synced or says why not, and answers how many
// partitions it committed.
func (c *Checkpointer) syncTargets(ctx context.Context, dst *kadm.Client, fresh map[string]map[tpKey]agentapi.PartitionCheckpoint, errs map[string]string) int {
	// Only groups whose translation moved, or that were not settled, need
	// the target asked; a steady group costs nothing.
	var ask []string
	for group, cps := range fresh {
		changed := !c.settled[group]
		for k, cp := range cps {
			if old, ok := c.written[group][k]; !ok || old.TargetOffset != cp.TargetOffset {
				changed = true
			}
		}
		if changed && len(cps) > 0 {
			ask = append(ask, group)
			continue
		}
		for k, cp := range cps { // keep the last verdict
			old := c.written[group][k]
			cp.Synced, cp.SyncSkipped = old.Synced, old.SyncSkipped
			cps[k] = cp
		}
	}
	if len(ask) == 0 {
		return 0
	}
	wanted := map[string]kadm.Offsets{}
	// A partition whose source offset went below what this checkpointer
	// last stored was moved back by the group itself (a deliberate reset):
	// the target follows it. A restart, or a stale index, never moves the
	// target back: after a restart nothing is known to have gone back.
	back := map[string]map[tpKey]bool{}
	for _, group := range ask {
		os := kadm.Offsets{}
		for k, cp := range fresh[group] {
			os.Add(kadm.Offset{Topic: cp.TargetTopic, Partition: k.partition, At: cp.TargetOffset, LeaderEpoch: -1, Metadata: cp.Metadata})
			if old, ok := c.written[group][k]; ok && cp.SourceOffset < old.SourceOffset {
				if back[group] == nil {
					back[group] = map[tpKey]bool{}
				}
				back[group][tpKey{cp.TargetTopic, k.partition}] = true
			}
		}
		wanted[group] = os
	}
	pl := planIdle(ctx, dst, wanted, back)
	for _, group := range ask {
		c.settled[group] = false
		cps := fresh[group]
		if why, failed := pl.failed[group]; failed {
			errs[group] = fmt.Sprintf("%s on target %s", why, c.Mirror.Target)
			continue
		}
		if n, live := pl.live[group]; live {
			for k, cp := range cps {
				cp.Synced, cp.SyncSkipped = false, LiveReason(n)
				cps[k] = cp
			}
			continue
		}
		for k, cp := range cps {
			if back[group][tpKey{cp.TargetTopic, k.partition}] {
				continue // committed below
			}
			if have, ok := pl.current[group].Lookup(cp.TargetTopic, k.partition); ok && have.Err == nil && have.At >= cp.TargetOffset {
				cp.Synced, cp.SyncSkipped = have.At == cp.TargetOffset, ""
				if have.At > cp.TargetOffset {
					cp.SyncSkipped = fmt.Sprintf("the target's offset %d is ahead of the translated %d; not moved back", have.At, cp.TargetOffset)
				}
				cps[k] = cp
			}
		}
		if _, moving := pl.commits[group]; !moving {
			c.settled[group] = true
		}
	}

	waiting, failed := send(ctx, c.Target, pl.commits)
	committed := 0
	for group, commit := range pl.commits {
		if why, ok := failed[group]; ok {
			// A member may have joined since the describe; the broker
			// refuses the commit then, which is what we want.
			errs[group] = fmt.Sprintf("%s on target %s", why, c.Mirror.Target)
			continue
		}
		cps := fresh[group]
		for k, cp := range cps {
			if _, ok := commit.Lookup(cp.TargetTopic, k.partition); ok {
				cp.Synced, cp.SyncSkipped = true, ""
				cps[k] = cp
				committed++
			}
		}
		if why, ok := waiting[group]; ok {
			errs[group] = fmt.Sprintf("topics %s on %s; retried next round", why, c.Mirror.Target)
			continue
		}
		c.settled[group] = true
	}
	return committed
}
