// Package topology answers how mirrors meet: which topic names a mirror
// copies and what it names them on its target, whether two mirrors could
// write the same target topic (an overlap), and whether mirrors would copy
// records back to where they came from (a cycle). It reasons on the
// mirrors' selections, not on the topics that exist, so that its answer does
// not change with the clusters' contents and every replica gives the same.
package topology

import (
	"regexp"
	"strings"
	"sync"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// InternalPrefix marks topics that are never mirrored: Kafka's own
// (__consumer_offsets, __transaction_state) and this project's (__kfo_*).
const InternalPrefix = "__"

// QuarantineSuffix ends the topics that hold a returned cluster's divergent
// tail; they are an account of what was lost, never mirrored.
const QuarantineSuffix = ".diverged"

// Prefix is what a mirror puts before a source topic's name on its target.
func Prefix(replicationPolicy, sourceCluster string) string {
	if replicationPolicy == agentapi.ReplicationPrefix {
		return sourceCluster + "."
	}
	return ""
}

// TargetTopic names a source topic on the target under a replication policy.
func TargetTopic(replicationPolicy, sourceCluster, topic string) string {
	return Prefix(replicationPolicy, sourceCluster) + topic
}

// NeverMirrored reports whether a topic is never copied, whatever a
// selection says: internal topics and quarantines.
func NeverMirrored(topic string) bool {
	return strings.HasPrefix(topic, InternalPrefix) || strings.HasSuffix(topic, QuarantineSuffix)
}

// Writes reports whether mirror m would write targetTopic on its target,
// should the source topic it comes from exist.
func Writes(m agentapi.Mirror, targetTopic string) bool {
	topic, ok := strings.CutPrefix(targetTopic, Prefix(m.ReplicationPolicy, m.Source))
	return ok && !NeverMirrored(topic) && selects(m.Topics, topic)
}

// selects reports whether a selection picks name. A pattern that does not
// compile matches every name; the API refuses such patterns.
func selects(sel agentapi.Selector, name string) bool {
	in := false
	for _, p := range sel.Include {
		if in = matches(p, name); in {
			break
		}
	}
	for _, p := range sel.Exclude {
		if in && matches(p, name) {
			return false
		}
	}
	return in
}

var compiled sync.Map // pattern -> *regexp.Regexp, nil when it does not compile

func matches(pattern, name string) bool {
	v, ok := compiled.Load(pattern)
	if !ok {
		re, err := regexp.Compile("^(?:" + pattern + ")$")
		if err != nil {
			re = nil
		}
		v, _ = compiled.LoadOrStore(pattern, re)
	}
	re := v.(*regexp.Regexp)
	return re == nil || re.MatchString(name)
}
