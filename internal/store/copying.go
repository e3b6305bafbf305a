package store

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/topology"
)

// This file owns which mirrors may copy now, and what they may not delete.

// MirrorFrozen reports whether a mirror must not copy at all now, and why:
// a policy stopped it (it copies from a cluster that is not active, or a
// failover is under way), a cluster it copies from or into diverged or was
// forgotten diverged, or it is part of a cycle that no one policy covers.
func (s *Store) MirrorFrozen(mirror, source, target string) (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range []string{source, target} {
		if f, ok := s.forgot[c]; ok {
			return true, fmt.Sprintf("%s was left behind by the forced failover to epoch %d of policy %s, which was deleted with forget_diverged: it may hold records never mirrored, so nothing is mirrored from or into it until the cluster is deleted from the agent and declared again", c, f.Epoch, f.Policy)
		}
	}
	if frozen, why := s.machine.Frozen(mirror, source, target, s.policiesListing); frozen {
		return true, why
	}
	// A divergence is the cluster's, not the policy's: a mirror outside the
	// policy would copy the divergent tail as surely as one inside it.
	for _, p := range slices.Sorted(maps.Keys(s.policies)) {
		st, _ := s.machine.State(p)
		for _, c := range []string{source, target} {
			if _, diverged := st.Diverged[c]; diverged {
				return true, fmt.Sprintf("%s was left behind by a forced failover of policy %s and may hold records that were never mirrored: nothing is mirrored from or into it, by any mirror, until it is reconciled (POST /v1/policies/%s/reverse)", c, p, p)
			}
		}
	}
	if m, ok := s.mirrors[mirror]; ok {
		if cycle := s.uncoveredCycle(m); cycle != nil {
			return true, cycleReason(cycle)
		}
	}
	return false, ""
}

// policiesListing answers the policies that list mirror m, sorted; s.mu is held.
func (s *Store) policiesListing(m string) []string {
	var out []string
	for name, p := range s.policies {
		if slices.Contains(p.Mirrors, m) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// onePolicyLists reports whether a single policy lists every mirror named;
// s.mu is held. Such a policy runs only the mirrors from its active cluster.
func (s *Store) onePolicyLists(names ...string) bool {
	for _, p := range s.policies {
		if !slices.ContainsFunc(names, func(n string) bool { return !slices.Contains(p.Mirrors, n) }) {
			return true
		}
	}
	return false
}

// uncoveredCycle answers a cycle through m that no one policy covers, m
// first, or nil; s.mu is held.
func (s *Store) uncoveredCycle(m agentapi.Mirror) []agentapi.Mirror {
	all := make([]agentapi.Mirror, 0, len(s.mirrors))
	for _, name := range slices.Sorted(maps.Keys(s.mirrors)) {
		all = append(all, s.mirrors[name])
	}
	var found []agentapi.Mirror
	topology.Cycles(m, all, func(cycle []agentapi.Mirror) bool {
		names := make([]string, len(cycle))
		for i, c := range cycle {
			names[i] = c.Name
		}
		if s.onePolicyLists(names...) {
			return true
		}
		found = cycle
		return false
	})
	return found
}

func cycleReason(cycle []agentapi.Mirror) string {
	names := make([]string, len(cycle))
	route := []string{cycle[0].Source}
	for i, c := range cycle {
		names[i] = c.Name
		route = append(route, c.Target)
	}
	return fmt.Sprintf("mirrors %s form a cycle (%s): records would be copied round and round without end. None of them copies until one failover policy lists them all; it then runs only the mirror from its active cluster",
		strings.Join(names, ", "), strings.Join(route, " -> "))
}

// TopicWriter answers the mirror that writes targetTopic on mirror's target
// instead of mirror, or "" when mirror may write it. Of two mirrors that
// could write the same topic the older one does, by created_at, which each
// mirror's own record carries; unless one policy lists both and they copy
// from different clusters, for then only the one from its active cluster
// ever runs.
func (s *Store) TopicWriter(mirror, targetTopic string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mirrors[mirror]
	if !ok {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(s.mirrors)) {
		o := s.mirrors[name]
		if name == mirror || o.Target != m.Target || !older(o, m) || !topology.Writes(o, targetTopic) {
			continue
		}
		if o.Source != m.Source && s.onePolicyLists(o.Name, m.Name) {
			continue
		}
		return o.Name
	}
	return ""
}

// older reports whether mirror a was created before b; names break a tie.
func older(a, b agentapi.Mirror) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.Name < b.Name
}

// ClusterNeeded answers the policy that needs cluster kept, and why, or ""
// when none does: applications use the active cluster, a diverged one holds
// a tail still to reconcile, and a failover under way reads every cluster of
// its policy.
func (s *Store) ClusterNeeded(cluster string) (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(s.policies)) {
		st, _ := s.machine.State(name)
		switch _, diverged := st.Diverged[cluster]; {
		case st.Active == cluster:
			return name, fmt.Sprintf("%s is the active cluster of policy %s: fail over to another cluster first", cluster, name)
		case diverged:
			return name, fmt.Sprintf("%s was left behind by a forced failover of policy %s and may hold records never mirrored: reconcile it first (POST /v1/policies/%s/reverse), or delete the policy with ?forget_diverged=true", cluster, name, name)
		case st.InProgress != nil && slices.Contains(s.policies[name].Clusters, cluster):
			return name, fmt.Sprintf("a failover of policy %s, a policy of %s, is under way: wait for it to end", name, cluster)
		}
	}
	return "", ""
}

// MirrorNeeded answers the policy that needs mirror kept, and why, or ""
// when none does: a failover under way reads its policy's mirrors, and the
// reconciliation of a diverged cluster reads the mirrors between it and the
// active cluster.
func (s *Store) MirrorNeeded(mirror string) (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mirrors[mirror]
	for _, name := range s.policiesListing(mirror) {
		st, _ := s.machine.State(name)
		if st.InProgress != nil {
			return name, fmt.Sprintf("a failover of policy %s, which lists mirror %s, is under way: wait for it to end", name, mirror)
		}
		for c := range st.Diverged {
			if (m.Source == c && m.Target == st.Active) || (m.Source == st.Active && m.Target == c) {
				return name, fmt.Sprintf("%s was left behind by a forced failover of policy %s, and its reconciliation reads mirror %s: reconcile it first (POST /v1/policies/%s/reverse), or delete the policy with ?forget_diverged=true", c, name, mirror, name)
			}
		}
	}
	return "", ""
}
