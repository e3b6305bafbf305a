package agent

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/topology"
)

// overlapOnTopics answers why mirror m is refused, "" when it is not:
// another mirror from the same source into the same target would write a
// topic that exists on the source now. Two writers would put every record
// in it twice. (A topic created later goes to the older mirror, see
// store.TopicWriter; mirrors from different sources are left to that rule
// too, because one policy listing both runs only one of them.)
func (s *server) overlapOnTopics(ctx context.Context, m agentapi.Mirror) (string, error) {
	var others []agentapi.Mirror
	for _, o := range s.Store.Mirrors() {
		if o.Name != m.Name && o.Source == m.Source && topology.Overlap(m, o) {
			others = append(others, o)
		}
	}
	if len(others) == 0 {
		return "", nil
	}
	topics, err := s.sourceTopics(ctx, m.Source)
	if err != nil {
		return "", fmt.Errorf("mirror %s may write the same topics as mirror %s, and the topics on %s cannot be listed to check: %w", m.Name, others[0].Name, m.Source, err)
	}
	for _, t := range topics {
		target := topology.TargetTopic(m.ReplicationPolicy, m.Source, t)
		if !topology.Writes(m, target) {
			continue
		}
		for _, o := range others {
			if topology.Writes(o, target) {
				return fmt.Sprintf("mirror %s already writes %s on %s from %s's topic %s: two mirrors writing one topic would put every record in it twice. Exclude it from one of the two selections (topics.exclude), or delete mirror %s first", o.Name, target, m.Target, m.Source, t, o.Name), nil
			}
		}
	}
	return "", nil
}

// sourceTopics lists the topics of a stored cluster.
func (s *server) sourceTopics(ctx context.Context, cluster string) ([]string, error) {
	conn, err := s.Store.Conn(cluster)
	if err != nil {
		return nil, err
	}
	opts, err := kafkaconn.Opts(conn)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	listed, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	return listed.Names(), nil
}

// keptForPolicy answers 409 when a policy needs what a DELETE would remove,
// and reports whether it did.
func (s *server) keptForPolicy(w http.ResponseWriter, r *http.Request, needed func(string) (string, string), name string) bool {
	// This replica may lag one where a failover just began or completed.
	if err := s.Store.CatchUp(r.Context()); err != nil {
		s.fail(w, r, err)
		return true
	}
	if policy, why := needed(name); policy != "" {
		writeError(w, http.StatusConflict, agentapiErr(codeConflict, "", why))
		return true
	}
	return false
}

// missingReason says which of a policy's mirrors and clusters do not
// exist, "" when all do. Terraform deletes a replaced mirror or cluster
// before it applies the policy again, so a policy may name one for a while.
func (s *server) missingReason(p agentapi.Policy, cluster string) string {
	var gone []string
	if _, err := s.Store.GetCluster(cluster); err != nil {
		gone = append(gone, "cluster "+cluster)
	}
	for _, mn := range p.Mirrors {
		if _, err := s.Store.GetMirror(mn); err != nil {
			gone = append(gone, "mirror "+mn)
		}
	}
	if len(gone) == 0 {
		return ""
	}
	return fmt.Sprintf("%s, named by the policy, does not exist: declare it again", strings.Join(gone, " and "))
}
