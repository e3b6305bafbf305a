package topology

import (
	"slices"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// Overlap reports whether mirrors a and b could write the same topic: they
// copy into the same cluster and some topic name would come out of both.
func Overlap(a, b agentapi.Mirror) bool {
	return a.Target == b.Target && anyName([]constraint{
		{Prefix(a.ReplicationPolicy, a.Source), a.Topics},
		{Prefix(b.ReplicationPolicy, b.Source), b.Topics},
	})
}

// maxPaths bounds the paths Cycles follows; past it the path at hand is
// answered as a cycle, which stops its mirrors: the safe side.
const maxPaths = 10000

// Cycles calls visit with each cycle through m, m first, until visit
// answers false: mirrors that each copy from the one before's target, the
// last into m's source, along which some topic m copies comes back to m's
// source under a name m copies again. Records would go round without end.
// A cycle passes each cluster once.
func Cycles(m agentapi.Mirror, all []agentapi.Mirror, visit func(cycle []agentapi.Mirror) bool) {
	paths := 0
	var walk func(path []agentapi.Mirror) bool
	walk = func(path []agentapi.Mirror) bool {
		last := path[len(path)-1]
		for _, n := range all {
			if n.Source != last.Target || slices.ContainsFunc(path, func(p agentapi.Mirror) bool { return p.Name == n.Name }) {
				continue
			}
			next := append(slices.Clone(path), n)
			if paths++; paths > maxPaths {
				return visit(next)
			}
			if n.Target == m.Source {
				if carries(append(next, m)) && !visit(next) {
					return false
				}
				continue
			}
			if slices.ContainsFunc(path, func(p agentapi.Mirror) bool { return p.Source == n.Target }) || !carries(next) {
				continue
			}
			if !walk(next) {
				return false
			}
		}
		return true
	}
	walk([]agentapi.Mirror{m})
}

// carries reports whether some topic copied by the first mirror of path is
// copied on by each of the others in turn. A name at the end of the path is
// the first topic's name with each mirror's prefix put before it.
func carries(path []agentapi.Mirror) bool {
	cs := make([]constraint, len(path))
	prefix := ""
	for i := len(path) - 1; i >= 0; i-- {
		cs[i] = constraint{prefix, path[i].Topics}
		if i > 0 {
			prefix += Prefix(path[i-1].ReplicationPolicy, path[i-1].Source)
		}
	}
	return anyName(cs)
}
