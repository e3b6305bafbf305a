package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
)

// Grants are the held ACLs of a failover's mirrors (see agentapi.ACLSync):
// the source's Write and other mutating ACLs of the mirrored topics, kept
// off the standby until it becomes the active cluster. The failover makes
// them there after the mirrors stopped and before the flip, so the
// applications write the moment discovery names the new active; the ones
// it makes are recorded in the begin op first, and an abort removes
// exactly those.

// grants answers the held ACLs of mirrors that the cluster `to` lacks, and
// per ACL why it cannot tell.
func (e *Executor) grants(ctx context.Context, to string, mirrors []agentapi.Mirror) ([]agentapi.ACL, []agentapi.ACLError) {
	var held []agentapi.ACL
	for _, m := range mirrors {
		if a, ok := e.Store.MirrorACLs(m.Name, to); ok && mirror.SyncsACLs(m) {
			held = append(held, a.Held...)
		}
	}
	if len(held) == 0 {
		return nil, nil
	}
	mirror.SortACLs(held)
	held = slices.Compact(held)
	cl, _, err := e.client(to)
	var have []agentapi.ACL
	if err == nil {
		defer cl.Close()
		have, err = mirror.DescribeACLs(ctx, cl)
	}
	if err != nil {
		return nil, failedAll(held, fmt.Errorf("the ACLs on %s cannot be described: %w", to, err))
	}
	return slices.DeleteFunc(held, func(a agentapi.ACL) bool { return slices.Contains(have, a) }), nil
}

func failedAll(acls []agentapi.ACL, err error) []agentapi.ACLError {
	out := make([]agentapi.ACLError, len(acls))
	for i, a := range acls {
		out[i] = agentapi.ACLError{ACL: a, Error: err.Error()}
	}
	return out
}

// grant makes a failover's grants on the new active cluster dst reaches and
// waits, 10 seconds at most, until the cluster lists them: its authorizer
// applies them by then. An ACL it cannot make is reported, not fatal: the
// flip goes on, and the report says which applications may not write.
func grant(ctx context.Context, dst *kgo.Client, grants []agentapi.ACL, log *slog.Logger) ([]agentapi.ACL, []agentapi.ACLError) {
	made, failed, err := mirror.ApplyACLs(ctx, dst, grants)
	if err != nil {
		if errors.Is(err, kerr.SecurityDisabled) {
			err = errors.New("the cluster has no authorizer")
		}
		return nil, failedAll(grants, err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(made) > 0; {
		have, err := mirror.DescribeACLs(ctx, dst)
		if err == nil && !slices.ContainsFunc(made, func(a agentapi.ACL) bool { return !slices.Contains(have, a) }) {
			break
		}
		if time.Now().After(deadline) {
			log.Warn("the new active cluster does not list the ACLs made for the flip yet", "error", err)
			break
		}
		select {
		case <-ctx.Done():
			return made, failed
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, f := range failed {
		log.Warn("held ACL not applied on the new active cluster", "acl", f.ACL, "error", f.Error)
	}
	return made, failed
}

// revokeGrants removes an aborted failover's grants from run.To. The error
// tells the user what to remove by hand.
func (e *Executor) revokeGrants(ctx context.Context, run agentapi.FailoverRun, log *slog.Logger) error {
	if len(run.Grants) == 0 {
		return nil
	}
	cl, _, err := e.client(run.To)
	var failed []agentapi.ACLError
	if err == nil {
		defer cl.Close()
		_, failed, err = mirror.RemoveACLs(ctx, cl, run.Grants)
		if errors.Is(err, kerr.SecurityDisabled) {
			err = nil // none was made
		}
	}
	if err == nil && len(failed) > 0 {
		err = errors.New(failed[0].Error)
	}
	if err != nil {
		log.Error("could not remove the ACLs the failover applied: remove them by hand", "cluster", run.To, "acls", run.Grants, "error", err)
		return fmt.Errorf("the ACLs the failover applied on %s could not be removed (%v): remove them by hand: %v", run.To, err, run.Grants)
	}
	log.Info("ACLs the failover applied removed", "cluster", run.To, "acls", run.Grants)
	return nil
}
