package store

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// kindACLs keys what a mirror's ACL sync owns on its target: acls/<mirror>.
// Kafka ACLs carry no owner, so this record is the only mark of the ACLs
// the agent made; it never deletes one that is not in it.
const kindACLs = "acls/"

// MirrorACLs is the record of a mirror's ACL sync.
type MirrorACLs struct {
	// Target is the cluster the Applied ACLs were made on.
	Target string `json:"target"`
	agentapi.ACLSync
}

// PutMirrorACLs records what a mirror's ACL sync owns and holds now.
func (s *Store) PutMirrorACLs(ctx context.Context, mirror string, a MirrorACLs) error {
	value, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = s.write(ctx, kindACLs+mirror, value)
	return err
}

// MirrorACLs answers the last record of a mirror's ACL sync into target;
// false when there is none for that target.
func (s *Store) MirrorACLs(mirror, target string) (MirrorACLs, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.acls[mirror]
	if !ok || a.Target != target {
		return MirrorACLs{}, false
	}
	return a, true
}

// Fences answers the DENY Write ACLs the agent's failovers keep on cluster
// now, left by completed failovers or made by one under way: the agent's
// own, never copied by an ACL sync.
func (s *Store) Fences(cluster string) []agentapi.FenceACL {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []agentapi.FenceACL
	names := make([]string, 0, len(s.policies))
	for n := range s.policies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st, ok := s.machine.State(n)
		if !ok {
			continue
		}
		if f, ok := st.Fences[cluster]; ok {
			out = append(out, f.Denied()...)
		}
		if run := st.InProgress; run != nil && run.Fence != nil && run.Fence.Cluster == cluster {
			out = append(out, run.Fence.Denied()...)
		}
	}
	return out
}
