package mirror

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/topology"
)

// InternalPrefix marks topics that are never mirrored: Kafka's own (__consumer_offsets,
// __transaction_state) and this project's (__kfo_*).
const InternalPrefix = topology.InternalPrefix

// Selector is a compiled agentapi.Selector; patterns match whole names.
type Selector struct{ include, exclude []*regexp.Regexp }

// CompileSelector compiles include/exclude patterns anchored to whole names;
// field names the JSON path used in errors, e.g. "topics".
func CompileSelector(field string, s agentapi.Selector) (Selector, error) {
	var out Selector
	for i, p := range s.Include {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return Selector{}, &FieldError{Field: fmt.Sprintf("%s.include[%d]", field, i), Err: err}
		}
		out.include = append(out.include, re)
	}
	for i, p := range s.Exclude {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return Selector{}, &FieldError{Field: fmt.Sprintf("%s.exclude[%d]", field, i), Err: err}
		}
		out.exclude = append(out.exclude, re)
	}
	return out, nil
}

// FieldError is a bad pattern, named by its field path.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s is not a valid regular expression: %v", e.Field, e.Err)
}

// Matches reports whether name is included and not excluded.
func (s Selector) Matches(name string) bool {
	in := false
	for _, re := range s.include {
		if re.MatchString(name) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, re := range s.exclude {
		if re.MatchString(name) {
			return false
		}
	}
	return true
}

// mayStartWith reports whether the selection may take names that start
// with prefix: the literal start of one of its include patterns and prefix
// agree as far as the shorter goes.
func (s Selector) mayStartWith(prefix string) bool {
	for _, re := range s.include {
		lit, _ := re.LiteralPrefix()
		if strings.HasPrefix(lit, prefix) || strings.HasPrefix(prefix, lit) {
			return true
		}
	}
	return false
}

// QuarantineSuffix ends the topics that hold a returned cluster's divergent
// tail; they are an account of what was lost, never mirrored.
const QuarantineSuffix = topology.QuarantineSuffix

// IsQuarantine reports whether a topic is a quarantine topic.
func IsQuarantine(topic string) bool { return strings.HasSuffix(topic, QuarantineSuffix) }

// TargetTopic names a source topic on the target under a replication policy.
func TargetTopic(policy, sourceCluster, topic string) string {
	return topology.TargetTopic(policy, sourceCluster, topic)
}

// TaskOf maps a source partition to its task. The mapping depends only on
// the topic, the partition and tasks_max: a partition changes task only when
// tasks_max changes, and then its new task fences the old one (see syncs.go).
func TaskOf(topic string, partition int32, tasksMax int) int {
	h := fnv.New32a()
	h.Write([]byte(topic))
	return int((uint64(h.Sum32()) + uint64(partition)) % uint64(tasksMax))
}

// SourcePartition is one partition of a mirrored source topic.
type SourcePartition struct {
	Topic       string
	Partition   int32
	TargetTopic string
}

// selects answers whether a mirror with selector sel copies source topic t.
func selects(sel Selector, t kadm.TopicDetail) bool {
	return !strings.HasPrefix(t.Topic, InternalPrefix) && !t.IsInternal && !IsQuarantine(t.Topic) && sel.Matches(t.Topic)
}

// listTopics lists every topic of a cluster as the cluster has it now.
// kadm's ListTopics answers from franz-go's metadata cache while that is
// younger than MetadataMinAge (5 s by default), which would hide a topic
// created since from a look or a refresh.
func listTopics(ctx context.Context, cl *kgo.Client) (kadm.TopicDetails, error) {
	req := kmsg.NewPtrMetadataRequest() // no topics: all of them
	req.AllowAutoTopicCreation = false
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	tds := make(kadm.TopicDetails, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		td := kadm.TopicDetail{Topic: *t.Topic, ID: t.TopicID, IsInternal: t.IsInternal,
			Partitions: make(kadm.PartitionDetails, len(t.Partitions)), Err: kerr.ErrorForCode(t.ErrorCode)}
		for _, p := range t.Partitions {
			td.Partitions[p.Partition] = kadm.PartitionDetail{Topic: td.Topic, Partition: p.Partition,
				Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, Err: kerr.ErrorForCode(p.ErrorCode)}
		}
		tds[td.Topic] = td
	}
	return tds, nil
}

// topicPlan is one matched source topic and what it needs on the target.
type topicPlan struct {
	topic       string
	target      string
	partitions  int32
	configs     map[string]*string // the source's synced configs, when configs are synced
	targetParts int32              // 0 when the target topic does not exist yet
	// targetConfigs are the synced configs set on the existing target
	// topic: what the source no longer sets is reset there.
	targetConfigs map[string]*string
}

// syncTopics takes the source topics that match from a listing, creates or grows them on
// the target (same partition count), copies their configs when asked, and
// answers every source partition that is ready to be mirrored.
// A target topic that mayWrite refuses is left alone: another mirror writes it.
func syncTopics(ctx context.Context, m agentapi.Mirror, sel Selector, mayWrite func(target string) bool, srcTopics kadm.TopicDetails, srcCl *kgo.Client, dst *kadm.Client) ([]SourcePartition, error) {
	src := kadm.NewClient(srcCl)
	var plans []*topicPlan
	var metaErrs []error
	for _, t := range srcTopics.Sorted() {
		if !selects(sel, t) {
			continue
		}
		target := TargetTopic(m.ReplicationPolicy, m.Source, t.Topic)
		if !mayWrite(target) {
			continue
		}
		if t.Err != nil {
			// Said, not skipped: the caller keeps the topic's partitions.
			metaErrs = append(metaErrs, fmt.Errorf("metadata of topic %s on source %s: %w", t.Topic, m.Source, t.Err))
			continue
		}
		plans = append(plans, &topicPlan{
			topic:      t.Topic,
			target:     target,
			partitions: int32(len(t.Partitions)),
		})
	}
	if len(plans) == 0 {
		return nil, errors.Join(metaErrs...)
	}
	if m.SyncTopicConfigs {
		if err := sourceConfigs(ctx, src, plans); err != nil {
			return nil, err
		}
	}
	targets := make([]string, len(plans))
	for i, p := range plans {
		targets[i] = p.target
	}
	dstTopics, err := dst.ListTopics(ctx, targets...)
	if err != nil {
		return nil, fmt.Errorf("list topics on target %s: %w", m.Target, err)
	}
	var existing []*topicPlan
	for _, p := range plans {
		if d, ok := dstTopics[p.target]; ok && d.Err == nil {
			p.targetParts = int32(len(d.Partitions))
			existing = append(existing, p)
		}
	}
	if m.SyncTopicConfigs && len(existing) > 0 {
		if err := targetConfigs(ctx, dst, existing); err != nil {
			return nil, fmt.Errorf("target %s: %w", m.Target, err)
		}
	}
	errs := metaErrs
	var ready []SourcePartition
	for _, p := range plans {
		if err := ensureTargetTopic(ctx, dst, m, p); err != nil {
			errs = append(errs, err)
			continue
		}
		for part := int32(0); part < p.partitions; part++ {
			ready = append(ready, SourcePartition{Topic: p.topic, Partition: part, TargetTopic: p.target})
		}
	}
	sort.Slice(ready, func(i, j int) bool {
		if ready[i].Topic != ready[j].Topic {
			return ready[i].Topic < ready[j].Topic
		}
		return ready[i].Partition < ready[j].Partition
	})
	return ready, errors.Join(errs...)
}

// notSynced are topic configs that belong to one cluster, never copied nor
// reset: replication throttles are set by a reassignment on that cluster,
// and min.insync.replicas and unclean leader election are durability
// choices sized to its own brokers (the source's min.insync.replicas 2 on
// a target of one broker would refuse every write after a failover).
var notSynced = map[string]bool{
	"leader.replication.throttled.replicas":   true,
	"follower.replication.throttled.replicas": true,
	"min.insync.replicas":                     true,
	"unclean.leader.election.enable":          true,
}

// setConfigs answers the configs set on each named topic itself (dynamic
// topic configs), the ones that are synced.
func setConfigs(ctx context.Context, adm *kadm.Client, names []string) (map[string]map[string]*string, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]*string{}
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, fmt.Errorf("configs of topic %s: %w", rc.Name, rc.Err)
		}
		set := map[string]*string{}
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil && !notSynced[c.Key] {
				set[c.Key] = c.Value
			}
		}
		out[rc.Name] = set
	}
	return out, nil
}

// sourceConfigs reads the configs set on each planned source topic; only
// those are copied, so the target's own defaults stay in charge of the rest.
func sourceConfigs(ctx context.Context, src *kadm.Client, plans []*topicPlan) error {
	names := make([]string, len(plans))
	for i, p := range plans {
		names[i] = p.topic
	}
	set, err := setConfigs(ctx, src, names)
	if err != nil {
		return fmt.Errorf("describe source topic configs: %w", err)
	}
	for _, p := range plans {
		p.configs = set[p.topic]
	}
	return nil
}

// targetConfigs reads the configs set on each existing target topic.
func targetConfigs(ctx context.Context, dst *kadm.Client, plans []*topicPlan) error {
	names := make([]string, len(plans))
	for i, p := range plans {
		names[i] = p.target
	}
	set, err := setConfigs(ctx, dst, names)
	if err != nil {
		return fmt.Errorf("describe target topic configs: %w", err)
	}
	for _, p := range plans {
		p.targetConfigs = set[p.target]
	}
	return nil
}

// configChanges answers what makes the target topic's synced configs the
// source's: a set for each value that differs, a reset (to the target's
// default) for each config the source no longer sets.
func configChanges(p *topicPlan) []kadm.AlterConfig {
	var alter []kadm.AlterConfig
	for k, v := range p.configs {
		if have, ok := p.targetConfigs[k]; !ok || *have != *v {
			alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: v})
		}
	}
	for k := range p.targetConfigs {
		if _, ok := p.configs[k]; !ok {
			alter = append(alter, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
		}
	}
	sort.Slice(alter, func(i, j int) bool { return alter[i].Name < alter[j].Name })
	return alter
}

func ensureTargetTopic(ctx context.Context, dst *kadm.Client, m agentapi.Mirror, p *topicPlan) error {
	switch {
	case p.targetParts == 0:
		rf := m.ReplicationFactor
		if rf == 0 {
			rf = -1 // the target cluster's default
		}
		resp, err := dst.CreateTopic(ctx, p.partitions, rf, p.configs, p.target)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s on target %s: %w", p.target, m.Target, err)
		}
		return nil
	case p.targetParts < p.partitions:
		resp, err := dst.CreatePartitions(ctx, int(p.partitions-p.targetParts), p.target)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return fmt.Errorf("grow topic %s on target %s to %d partitions: %w", p.target, m.Target, p.partitions, err)
		}
	}
	if alter := configChanges(p); len(alter) > 0 {
		resp, err := dst.AlterTopicConfigs(ctx, alter, p.target)
		if err == nil {
			for _, r := range resp {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		if err != nil {
			return fmt.Errorf("copy configs of topic %s to target %s: %w", p.topic, m.Target, err)
		}
	}
	return nil
}

func isExists(err error) bool { return errors.Is(err, kerr.TopicAlreadyExists) }
