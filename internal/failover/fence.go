package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// newFence denies writes to topics on cluster for every principal. The
// agent itself only reads there, so it is not in the way.
func newFence(cluster string, topics []string) agentapi.Fence {
	return agentapi.Fence{Cluster: cluster, Principal: "User:*", Host: "*", Topics: topics}
}

func fenceACLs(f agentapi.Fence) *kadm.ACLBuilder {
	return kadm.NewACLs().Topics(f.Topics...).ResourcePatternType(kadm.ACLPatternLiteral).
		Deny(f.Principal).DenyHosts(f.Host).Operations(kadm.OpWrite)
}

// fence makes f's ACLs on cl; a cluster without an authorizer is told apart
// so that the user learns what to do.
func fence(ctx context.Context, cl *kgo.Client, f agentapi.Fence) error {
	if len(f.Topics) == 0 {
		return nil
	}
	results, err := kadm.NewClient(cl).CreateACLs(ctx, fenceACLs(f))
	if err == nil {
		for _, r := range results {
			if r.Err != nil {
				err = r.Err
				break
			}
		}
	}
	if errors.Is(err, kerr.SecurityDisabled) {
		return fmt.Errorf("cluster %s has no authorizer, so it cannot be fenced with ACLs: enable an authorizer there, or set the policy's fencing to \"none\" and stop the producers yourself before a planned failover", f.Cluster)
	}
	if err != nil {
		return fmt.Errorf("fence writes on %s: %w", f.Cluster, err)
	}
	return nil
}

// unfence deletes f's ACLs from cl and answers how many it found; ACLs that
// were never made are no error.
func unfence(ctx context.Context, cl *kgo.Client, f agentapi.Fence) (int, error) {
	if len(f.Topics) == 0 {
		return 0, nil
	}
	results, err := kadm.NewClient(cl).DeleteACLs(ctx, fenceACLs(f))
	if errors.Is(err, kerr.SecurityDisabled) {
		return 0, nil // never fenced
	}
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, r := range results {
		if r.Err != nil && !errors.Is(r.Err, kerr.SecurityDisabled) {
			return removed, r.Err
		}
		removed += len(r.Deleted)
	}
	return removed, nil
}

// liftFence removes a failover's fence from the cluster it was made on and
// says what it removed. The error tells the user what to remove by hand.
func (e *Executor) liftFence(ctx context.Context, f agentapi.Fence, log *slog.Logger) error {
	cl, _, err := e.client(f.Cluster)
	var removed int
	if err == nil {
		defer cl.Close()
		removed, err = unfence(ctx, cl, f)
	}
	if err != nil {
		log.Error("could not lift the fence: remove its DENY Write ACLs by hand", "cluster", f.Cluster, "principal", f.Principal, "host", f.Host, "topics", f.Topics, "error", err)
		return fmt.Errorf("the fence on %s could not be lifted (%v): remove the DENY Write ACLs of %s from host %s on its topics %v by hand", f.Cluster, err, f.Principal, f.Host, f.Topics)
	}
	log.Info("fence lifted", "cluster", f.Cluster, "principal", f.Principal, "topics", f.Topics, "acls_removed", removed)
	return nil
}
