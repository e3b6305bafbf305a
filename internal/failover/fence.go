package failover

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fenceACLs stops writes to topics on a cluster: DENY Write for every
// principal. The agent itself only reads there, so it is not in the way.
func fenceACLs(topics []string) *kadm.ACLBuilder {
	return kadm.NewACLs().Topics(topics...).ResourcePatternType(kadm.ACLPatternLiteral).
		Deny("User:*").DenyHosts("*").Operations(kadm.OpWrite)
}

// fence denies writes to topics on cl; a cluster without an authorizer is
// told apart so that the user learns what to do.
func fence(ctx context.Context, cl *kgo.Client, cluster string, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	results, err := kadm.NewClient(cl).CreateACLs(ctx, fenceACLs(topics))
	if err == nil {
		for _, r := range results {
			if r.Err != nil {
				err = r.Err
				break
			}
		}
	}
	if errors.Is(err, kerr.SecurityDisabled) {
		return fmt.Errorf("cluster %s has no authorizer, so it cannot be fenced with ACLs: enable an authorizer there, or set the policy's fencing to \"none\" and stop the producers yourself before a planned failover", cluster)
	}
	if err != nil {
		return fmt.Errorf("fence writes on %s: %w", cluster, err)
	}
	return nil
}

// unfence removes the fence ACLs from a cluster that becomes active again.
func unfence(ctx context.Context, cl *kgo.Client, topics []string) error {
	if len(topics) == 0 {
		return nil
	}
	results, err := kadm.NewClient(cl).DeleteACLs(ctx, fenceACLs(topics))
	if errors.Is(err, kerr.SecurityDisabled) {
		return nil // never fenced
	}
	if err == nil {
		for _, r := range results {
			if r.Err != nil && !errors.Is(r.Err, kerr.SecurityDisabled) {
				return r.Err
			}
		}
	}
	return err
}
