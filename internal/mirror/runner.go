package mirror

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/checkpoint"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// TasksTopic exists on the state cluster only to spread a mirror's tasks over
// the agent replicas with Kafka's group protocol: partition i is task i, and
// the replica assigned partition i runs task i.
func TasksTopic(mirror string) string { return "__kfo_tasks." + mirror }

// TasksGroup is the consumer group of a mirror's task assignment.
func TasksGroup(mirror string) string { return "__kfo_tasks." + mirror }

// MemberInstance is an agent replica's static member id (group.instance.id)
// in the task groups: its --agent-id when Kafka takes it as one, else the
// id with every character Kafka refuses (it takes [a-zA-Z0-9._-], up to 249
// of them) turned into '_' and a hash of the whole id, so that two agent
// ids stay apart.
func MemberInstance(agentID string) string {
	legal := func(c rune) bool {
		return c == '.' || c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	clean := strings.Map(func(c rune) rune {
		if legal(c) {
			return c
		}
		return '_'
	}, agentID)
	if clean == agentID && len(agentID) <= 249 && agentID != "." && agentID != ".." {
		return agentID
	}
	sum := sha256.Sum256([]byte(agentID))
	return clean[:min(len(clean), 200)] + "-" + hex.EncodeToString(sum[:8])
}

// runner runs one mirror on this agent: it refreshes the topic list, keeps
// the target topics in shape, and runs the tasks the group assigns here.
type runner struct {
	m        agentapi.Mirror
	sel      Selector
	srcOpts  []kgo.Opt
	dstOpts  []kgo.Opt
	state    []kgo.Opt
	log      *slog.Logger
	metrics  *Metrics
	sessions time.Duration
	agentID  string
	hooks    Hooks
	// frozen is asked by the checkpointer before it commits; see
	// Manager.frozenNow. hold is asked by each task before it copies; see
	// Manager.holdNow.
	frozen, hold func(context.Context) (string, error)
	// writer answers the mirror that writes a target topic instead of
	// this one, "" when this one may; see store.TopicWriter.
	writer func(targetTopic string) string
	// format answers the record format version to write.
	format func() int
	// book keeps what the ACL sync owns on the target; see acls.go.
	book aclBook

	cpMetrics *checkpoint.Metrics

	// leaving is set when the agent shuts down: its static member then
	// leaves the task group, so that the other replicas take over at
	// once instead of after the session timeout.
	leaving atomic.Bool

	mu    sync.Mutex
	parts []SourcePartition
	tasks map[int]*runningTask
	err   string
	// joinErr is why the task group refused this replica, until a join
	// gives it a generation other than joinGen.
	joinErr string
	joinGen int32
	member  *kgo.Client
	cache   *checkpoint.Cache
	// checkpointer runs on the replica that owns task 0.
	checkpointer *runningTask
	translator   *checkpoint.Translator
	src, dst     *kgo.Client
	// ends are the source's end offsets as watchEnds last saw them.
	ends map[tp]End
	// refreshed: the topic list was read at least once.
	refreshed bool
	// held are the target topics the last refresh left to another mirror.
	held map[string]string
	// looked are the selected source topics and their partition counts as
	// the last look saw them; only run's goroutine uses it.
	looked map[string]int
	// notCopying counts the mirror's partitions no task copies, and
	// notCopyingSince says since when, zero while every one is; see
	// noteCopying.
	notCopying      int
	notCopyingSince time.Time
}

type runningTask struct {
	t *task
	// stop asks the task to commit the records it already fetched and
	// end; cancel ends it at once. The checkpointer has cancel alone.
	stop, cancel context.CancelFunc
	done         chan struct{}
}

func (r *runner) run(ctx context.Context) error {
	// The runner's own source client lists and describes; a request it
	// cannot get answered gives up within refresh_interval with the
	// broker's error (a refused login, a closed connection), so the
	// status says why by then instead of after franz-go's 30 s of retries.
	src, err := kgo.NewClient(withOpts(r.srcOpts, kgo.RetryTimeout(min(r.refreshInterval(), 30*time.Second)))...)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := kgo.NewClient(r.dstOpts...)
	if err != nil {
		return err
	}
	defer dst.Close()
	srcAdm, dstAdm := kadm.NewClient(src), kadm.NewClient(dst)

	tasksMax := r.m.TasksMax
	if err := ensureSyncTopic(ctx, dstAdm, r.m.Name, int32(tasksMax), r.hooks, r.log); err != nil {
		return fmt.Errorf("offset sync topic on target %s: %w", r.m.Target, err)
	}
	stateCl, err := kgo.NewClient(r.state...)
	if err != nil {
		return err
	}
	err = EnsureTopicPartitions(ctx, kadm.NewClient(stateCl), TasksTopic(r.m.Name), int32(tasksMax), false)
	stateCl.Close()
	if err != nil {
		return fmt.Errorf("task topic on the state cluster: %w", err)
	}

	if err := EnsureTopicPartitions(ctx, dstAdm, checkpoint.Topic(r.m.Name), 1, true); err != nil {
		return fmt.Errorf("checkpoint topic on target %s: %w", r.m.Target, err)
	}
	translator, err := checkpoint.StartTranslator(ctx, r.dstOpts, r.m.Name)
	if err != nil {
		return err
	}
	cache, err := checkpoint.StartCache(ctx, r.dstOpts, r.m.Name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.translator, r.cache, r.src, r.dst = translator, cache, src, dst
	r.mu.Unlock()

	// First the partitions, then the membership: a task that starts
	// knows what to copy. The refresh's listing is also the first look's
	// baseline: a topic made after it is seen by the next look.
	r.refresh(ctx, src, dstAdm)
	go r.watchEnds(ctx, srcAdm)
	member, err := kgo.NewClient(withOpts(r.state,
		kgo.ConsumerGroup(TasksGroup(r.m.Name)),
		kgo.ConsumeTopics(TasksTopic(r.m.Name)),
		kgo.DisableAutoCommit(),
		// A static member (KIP-345): a restarted agent takes its tasks
		// back at once, instead of waiting for its former self's
		// session to end while nothing is mirrored.
		kgo.InstanceID(MemberInstance(r.agentID)),
		kgo.SessionTimeout(r.sessions),
		kgo.HeartbeatInterval(r.sessions/6),
		// Kafka's 60 s would let a replica that dies in the middle of a
		// rebalance hold every task that long; a live one rejoins in
		// far less.
		kgo.RebalanceTimeout(r.sessions),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			r.startTasks(ctx, a[TasksTopic(r.m.Name)])
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { r.stopTasks(a[TasksTopic(r.m.Name)]) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { r.stopTasks(a[TasksTopic(r.m.Name)]) }),
	)...)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.member = member
	r.mu.Unlock()
	defer func() {
		r.stopAll()
		member.Close() // a static member stays in the group: it may be back at once
		if r.leaving.Load() {
			r.leaveGroup()
		}
	}()
	go func() {
		// The topic holds no records; polling keeps the member alive
		// and hands over why it could not join.
		for ctx.Err() == nil {
			r.noteJoin(member, member.PollFetches(ctx))
		}
	}()

	refresh := time.NewTicker(r.refreshInterval())
	defer refresh.Stop()
	look := time.NewTicker(agentapi.LookEvery(r.refreshInterval()))
	defer look.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-look.C:
			if r.look(ctx, src) {
				r.refresh(ctx, src, dstAdm)
			}
		case <-refresh.C:
			r.refresh(ctx, src, dstAdm)
			if SyncsACLs(r.m) && r.runsCheckpoints() {
				r.syncACLs(ctx, src, dst) // on one replica: one writer of the record
			}
		}
	}
}

func (r *runner) refreshInterval() time.Duration {
	d, err := time.ParseDuration(r.m.RefreshInterval)
	if err != nil || d <= 0 {
		return agentapi.DefaultRefreshInterval
	}
	return d
}

// look lists the source's topics (one metadata request) and answers whether
// a selected topic or partition appeared since the last look: then a refresh
// runs at once instead of at the next refresh_interval. A failed look
// answers false; the next refresh says why.
func (r *runner) look(ctx context.Context, src *kgo.Client) bool {
	lctx, cancel := context.WithTimeout(ctx, r.refreshInterval())
	defer cancel()
	listed, err := listTopics(lctx, src)
	if err != nil {
		return false
	}
	looked, appeared := selectedPartitions(r.sel, listed), false
	for topic, n := range looked {
		appeared = appeared || n > r.looked[topic]
	}
	r.looked = looked
	return appeared
}

// selectedPartitions answers the partition count of each selected topic a
// listing holds without error.
func selectedPartitions(sel Selector, listed kadm.TopicDetails) map[string]int {
	out := map[string]int{}
	for _, t := range listed {
		if t.Err == nil && selects(sel, t) {
			out[t.Topic] = len(t.Partitions)
		}
	}
	return out
}

// refresh picks up new topics and partitions and hands each task its share.
func (r *runner) refresh(ctx context.Context, src *kgo.Client, dstAdm *kadm.Client) {
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	held := map[string]string{}
	mayWrite := func(target string) bool {
		if other := r.writer(target); other != "" {
			held[target] = other
			return false
		}
		return true
	}
	listed, err := listTopics(rctx, src)
	var parts []SourcePartition
	if err != nil {
		err = fmt.Errorf("list topics on source %s: %w", r.m.Source, err)
	} else {
		r.looked = selectedPartitions(r.sel, listed)
		parts, err = syncTopics(rctx, r.m, r.sel, mayWrite, listed, src, dstAdm)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = ""
	if err != nil {
		r.err = err.Error()
		r.log.Warn("refresh of mirrored topics failed; retrying at the next refresh", "error", err)
		r.metrics.errors.WithLabelValues(r.m.Name).Inc()
		// A refresh that failed in part keeps every partition it knew:
		// dropping one stops its copy for nothing.
		parts = mergeParts(r.parts, parts)
		parts = slices.DeleteFunc(parts, func(p SourcePartition) bool { return !mayWrite(p.TargetTopic) })
	}
	for target, other := range held {
		if _, known := r.held[target]; !known {
			r.log.Warn("topic not copied: another mirror writes it", "topic", target, "writer", other)
		}
	}
	r.held = held
	r.parts = parts
	r.refreshed = true
	for id, rt := range r.tasks {
		rt.t.setPartitions(r.partsOf(id))
	}
}

func (r *runner) partsOf(task int) []SourcePartition {
	var out []SourcePartition
	for _, p := range r.parts {
		if TaskOf(p.Topic, p.Partition, r.m.TasksMax) == task {
			out = append(out, p)
		}
	}
	return out
}

func (r *runner) startTasks(ctx context.Context, ids []int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if _, ok := r.tasks[int(id)]; ok || int(id) >= r.m.TasksMax {
			continue
		}
		t := &task{
			id: int(id), m: r.m, srcOpts: r.srcOpts, dstOpts: r.dstOpts,
			log:     r.log.With("task", id),
			stats:   newTaskStats(int(id), r.agentID),
			metrics: r.metrics,
			partsCh: make(chan []SourcePartition, 1), restartIn: time.Second,
			hold: r.hold, hooks: r.hooks, format: r.format,
		}
		t.setPartitions(r.partsOf(int(id)))
		// The mirror's end asks its tasks to stop; only stopTasks, past
		// its bound, ends them at once.
		stop, stopNow := context.WithCancel(ctx)
		work, cancel := context.WithCancel(context.WithoutCancel(ctx))
		rt := &runningTask{t: t, stop: stopNow, cancel: cancel, done: make(chan struct{})}
		r.tasks[int(id)] = rt
		r.log.Info("mirror task assigned to this agent", "task", id)
		go func() {
			defer close(rt.done)
			defer cancel()
			t.run(stop, work)
		}()
		if id == 0 {
			r.startCheckpointer(ctx)
		}
	}
}

// startCheckpointer runs the mirror's checkpoint rounds on this replica;
// r.mu is held.
func (r *runner) startCheckpointer(ctx context.Context) {
	groups, err := CompileSelector("groups", r.m.Groups)
	if err != nil || r.checkpointer != nil {
		return
	}
	cp := &checkpoint.Checkpointer{
		Mirror: r.m, Groups: groups.Matches, Targets: r.targets,
		Source: r.src, Target: r.dst, Translator: r.translator,
		Metrics: r.cpMetrics, Log: r.log.With("component", "checkpoint"),
		Frozen: r.frozen, Format: r.format,
	}
	cctx, cancel := context.WithCancel(ctx)
	rt := &runningTask{stop: cancel, cancel: cancel, done: make(chan struct{})}
	r.checkpointer = rt
	go func() {
		defer close(rt.done)
		cp.Run(cctx)
	}()
	r.log.Info("checkpoints of this mirror run on this agent")
}

// runsCheckpoints reports whether this replica owns task 0, and so the
// mirror's checkpoints and ACL sync.
func (r *runner) runsCheckpoints() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checkpointer != nil
}

// targets answers the mirrored source topics and their target names.
func (r *runner) targets() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.parts))
	for _, p := range r.parts {
		out[p.Topic] = p.TargetTopic
	}
	return out
}

// Group answers a group's last checkpoints as stored on the target.
func (r *runner) group(group string) (agentapi.GroupCheckpoints, bool) {
	r.mu.Lock()
	cache := r.cache
	r.mu.Unlock()
	if cache == nil {
		return agentapi.GroupCheckpoints{}, false
	}
	return cache.Group(group)
}

// stopTasks asks the tasks to stop and waits for them, so a new owner does
// not start while they still copy (fencing would stop them anyway). A task
// first commits what it already fetched: after a lost source, nothing else
// holds those records.
func (r *runner) stopTasks(ids []int32) {
	r.mu.Lock()
	var stopping []*runningTask
	for _, id := range ids {
		if rt, ok := r.tasks[int(id)]; ok {
			delete(r.tasks, int(id))
			rt.stop()
			stopping = append(stopping, rt)
			r.log.Info("mirror task revoked from this agent", "task", id)
		}
		if id == 0 && r.checkpointer != nil {
			r.checkpointer.stop()
			stopping = append(stopping, r.checkpointer)
			r.checkpointer = nil
		}
	}
	r.mu.Unlock()
	// Bounded well within the rebalance timeout, so that a slow task
	// does not get this replica thrown out of the group.
	if allDone(stopping, r.sessions/2) {
		return
	}
	r.log.Warn("mirror task did not stop in time; ended with what it had not committed, and the next owner fences it", "within", r.sessions/2)
	for _, rt := range stopping {
		rt.cancel()
	}
	allDone(stopping, 2*time.Second) // ended, each returns at its next call to Kafka
}

// allDone waits up to d for every task to end and answers whether they did.
func allDone(tasks []*runningTask, d time.Duration) bool {
	deadline := time.After(d)
	for _, rt := range tasks {
		select {
		case <-rt.done:
		case <-deadline:
			return false
		}
	}
	return true
}

func (r *runner) stopAll() {
	r.mu.Lock()
	ids := make([]int32, 0, len(r.tasks))
	for id := range r.tasks {
		ids = append(ids, int32(id))
	}
	r.mu.Unlock()
	r.stopTasks(ids)
}

// leaveGroup takes this replica's static member out of the task group, from
// a client of its own: the member's client is closed, and leaves nothing.
func (r *runner) leaveGroup() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(r.state...)
	if err == nil {
		defer cl.Close()
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group = TasksGroup(r.m.Name)
		member := kmsg.NewLeaveGroupRequestMember()
		member.InstanceID = kmsg.StringPtr(MemberInstance(r.agentID))
		req.Members = append(req.Members, member)
		var resp *kmsg.LeaveGroupResponse
		if resp, err = req.RequestWith(ctx, cl); err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
			for _, m := range resp.Members {
				err = cmp.Or(err, kerr.ErrorForCode(m.ErrorCode))
			}
		}
	}
	if err != nil {
		r.log.Warn("could not leave the mirror's task group on shutdown; the other replicas take its tasks after the session timeout", "error", err)
	}
}

// noteJoin keeps why the task group refused this replica, from the error
// the group consumer hands to its poll when a join fails.
func (r *runner) noteJoin(member *kgo.Client, fetches kgo.Fetches) {
	for _, fe := range fetches.Errors() {
		var refused *kgo.ErrGroupSession
		if !errors.As(fe.Err, &refused) {
			continue
		}
		why := joinRefusal(r.sessions, refused.Err)
		_, gen := member.GroupMetadata()
		r.mu.Lock()
		if why != r.joinErr {
			r.log.Warn("the state cluster refuses this agent into the mirror's task group; retrying", "error", why)
		}
		r.joinErr, r.joinGen = why, gen
		r.mu.Unlock()
	}
}

// joinRefusal says why a join of the task group failed, and what to change
// when the brokers refuse the session timeout.
func joinRefusal(sessions time.Duration, err error) string {
	why := "the state cluster refuses this agent into the mirror's task group: " + err.Error()
	if errors.Is(err, kerr.FencedInstanceID) {
		why += "; another agent replica runs with the same --agent-id: give each replica its own"
	}
	if errors.Is(err, kerr.InvalidSessionTimeout) {
		why += fmt.Sprintf("; the agent's --session-timeout %s is below the brokers' group.min.session.timeout.ms"+
			" (Apache Kafka's default: 6s) or above their group.max.session.timeout.ms: change one or the other", sessions)
	}
	return why
}

// status answers the partitions of the tasks running here, and what stops
// the mirror: a refused join, or the last refresh's error.
func (r *runner) status(now time.Time) ([]agentapi.PartitionStatus, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []agentapi.PartitionStatus
	for _, rt := range r.tasks {
		out = append(out, rt.t.stats.snapshot(now)...)
	}
	if r.joinErr != "" && r.member != nil {
		if _, gen := r.member.GroupMetadata(); gen != r.joinGen {
			r.joinErr = "" // joined since
		}
	}
	return out, cmp.Or(r.joinErr, r.err)
}

// noteCopying finds, from the status every replica published, how many of
// the mirror's partitions no task copies, and since when.
func (r *runner) noteCopying(b *Board, now time.Time) (int, time.Time) {
	r.mu.Lock()
	parts := slices.Clone(r.parts)
	r.mu.Unlock()
	n, lastCopied := b.notCopied(r.m.Name, parts, now)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notCopying = n
	switch {
	case n == 0:
		r.notCopyingSince = time.Time{}
	case r.notCopyingSince.IsZero():
		r.notCopyingSince = now
	}
	// A partition's last report says when it was last copied, which may
	// be before this replica noticed (it may just have started).
	if n > 0 && !lastCopied.IsZero() && lastCopied.Before(r.notCopyingSince) {
		r.notCopyingSince = lastCopied
	}
	return n, r.notCopyingSince
}

// copying answers what noteCopying found last.
func (r *runner) copying() (int, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.notCopying, r.notCopyingSince
}

// EnsureTopicPartitions creates an internal topic with at least n partitions.
func EnsureTopicPartitions(ctx context.Context, adm *kadm.Client, topic string, n int32, compacted bool) error {
	if compacted {
		if err := store.EnsureCompactedTopic(ctx, adm, topic, n); err != nil {
			return err
		}
	} else {
		resp, err := adm.CreateTopic(ctx, n, -1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !isExists(err) {
			return err
		}
	}
	return ensurePartitions(ctx, adm, topic, n)
}

// ensurePartitions adds partitions to a topic that has fewer than n.
func ensurePartitions(ctx context.Context, adm *kadm.Client, topic string, n int32) error {
	// A topic just created is not in every broker's metadata yet on Apache
	// Kafka: its partitions read as none, and growing it from none failed
	// with UNKNOWN_TOPIC_OR_PARTITION. Wait for it to be known.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var td kadm.TopicDetails
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var err error
		if td, err = adm.ListTopics(ctx, topic); err != nil {
			return err
		}
		if err := td[topic].Err; err == nil {
			break
		} else if !errors.Is(err, kerr.UnknownTopicOrPartition) && !errors.Is(err, kerr.LeaderNotAvailable) {
			return fmt.Errorf("metadata of %s: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is not in the cluster's metadata yet: %w", topic, ctx.Err())
		case <-time.After(wait):
		}
	}
	if have := int32(len(td[topic].Partitions)); have < n {
		resp, err := adm.CreatePartitions(ctx, int(n-have), topic)
		if err == nil {
			err = resp.Error()
		}
		return err
	}
	return nil
}

// mergeParts answers the partitions of both lists, each once, sorted.
func mergeParts(known, fresh []SourcePartition) []SourcePartition {
	seen := map[tp]bool{}
	var out []SourcePartition
	for _, list := range [][]SourcePartition{fresh, known} {
		for _, p := range list {
			if k := (tp{p.Topic, p.Partition}); !seen[k] {
				seen[k] = true
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// foundNothing answers whether the last refresh read the source and found
// no partition for the mirror to copy: it runs with nothing to do.
func (r *runner) foundNothing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.foundNothingLocked()
}

func (r *runner) foundNothingLocked() bool { return r.refreshed && r.err == "" && len(r.parts) == 0 }

// statusNote says what a mirror that is not failing still does not copy:
// the target topics it leaves to other mirrors, or that its selection
// matched nothing the agent can see on the source; "" when neither.
func (r *runner) statusNote() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.foundNothingLocked() && len(r.held) == 0 {
		// Kafka leaves out of metadata the topics a principal may not
		// describe: a missing ACL looks exactly like a missing topic.
		return fmt.Sprintf("no topic on %s matches the mirror's topics selection; if such topics exist, the agent's user there may lack the Describe and Read ACLs on them", r.m.Source)
	}
	if len(r.held) == 0 {
		return ""
	}
	var each []string
	for _, target := range slices.Sorted(maps.Keys(r.held)) {
		each = append(each, fmt.Sprintf("%s (written by mirror %s)", target, r.held[target]))
	}
	return fmt.Sprintf("not copied, because an older mirror into %s writes the same topic and two writers would hold every record twice: %s", r.m.Target, strings.Join(each, ", "))
}
