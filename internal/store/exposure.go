package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
)

// internalPrefix starts the name of every topic the agent keeps.
const internalPrefix = "__kfo_"

// AnonymousWriters says why anonymous clients may write the agent's __kfo_*
// topics on its state cluster, none when the agent cannot tell they may, and
// names those topics. Whoever writes them can declare clusters, mirrors and
// failovers the agent carries out.
func AnonymousWriters(ctx context.Context, state kafkaconn.Conn) (topics, why []string, err error) {
	opts, err := kafkaconn.Opts(state)
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		return nil, nil, err
	}
	topics = []string{StateTopic}
	for _, t := range listed.Names() {
		if strings.HasPrefix(t, internalPrefix) && t != StateTopic {
			topics = append(topics, t)
		}
	}
	if state.SASLMechanism == "" && state.CertPEM == "" {
		why = append(why, "the agent reaches its state cluster without SASL or a client certificate, so it is an anonymous client itself: any client that reaches the same listener may write what the agent writes")
	}
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType = kmsg.ACLResourceTypeTopic
	req.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
	req.Operation = kmsg.ACLOperationAny
	req.PermissionType = kmsg.ACLPermissionTypeAllow
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return topics, why, fmt.Errorf("describe the state cluster's ACLs: %w", err)
	}
	switch err := kerr.ErrorForCode(resp.ErrorCode); {
	case err == kerr.SecurityDisabled:
		why = append(why, "the state cluster has no authorizer: every client that can connect may write, anonymous ones included on any listener that does not authenticate")
	case err != nil:
		return topics, why, fmt.Errorf("describe the state cluster's ACLs: %w", err) // not allowed to: cannot tell
	}
	for _, r := range resp.Resources {
		if !coversInternalTopics(r.ResourceName, r.ResourcePatternType) {
			continue
		}
		for _, a := range r.ACLs {
			if (a.Principal == "User:*" || a.Principal == "User:ANONYMOUS") && writes(a.Operation) {
				why = append(why, fmt.Sprintf("an ACL allows %s %s on topic %s %q from host %s", a.Principal, a.Operation, r.ResourcePatternType, r.ResourceName, a.Host))
			}
		}
	}
	return topics, why, nil
}

// coversInternalTopics reports whether a topic ACL's resource covers some
// __kfo_* topic.
func coversInternalTopics(name string, pattern kmsg.ACLResourcePatternType) bool {
	switch pattern {
	case kmsg.ACLResourcePatternTypeLiteral:
		return name == "*" || strings.HasPrefix(name, internalPrefix)
	case kmsg.ACLResourcePatternTypePrefixed:
		return strings.HasPrefix(internalPrefix, name) || strings.HasPrefix(name, internalPrefix)
	}
	return false
}

// writes reports whether an operation on a topic lets its holder change
// what the topic holds.
func writes(op kmsg.ACLOperation) bool {
	return slices.Contains([]kmsg.ACLOperation{kmsg.ACLOperationAll, kmsg.ACLOperationWrite, kmsg.ACLOperationDelete, kmsg.ACLOperationAlter, kmsg.ACLOperationAlterConfigs}, op)
}
