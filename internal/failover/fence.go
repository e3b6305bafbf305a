package failover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
)

// A fence denies writes to the old active cluster's mirrored topics. Kafka
// applies a DENY to every principal but the super users, and after the flip
// the agent writes there itself (the mirror back from the new active), so
// the fence denies by name each principal that the ACLs allow to write,
// except the agent's own. Only where anyone may write (an ALLOW for User:*,
// or a topic no ACL names, which allow.everyone.if.no.acl.found opens) does
// it deny User:*, and only if the agent's user is a super user there, whom
// a DENY does not stop: otherwise the failover is refused before anything
// is fenced.

// anyone is Kafka's wildcard principal.
const anyone = "User:*"

// legacyFence is the fence of agents before per-principal fencing: every
// principal denied on every topic. Recovery makes it for a failover that
// recorded no fence.
func legacyFence(cluster string, topics []string) agentapi.Fence {
	return agentapi.Fence{Cluster: cluster, ACLs: []agentapi.FenceACL{{Principal: anyone, Host: "*", Topics: topics}}}
}

// fenceACLs answers the builder of one fence ACL's bindings.
func fenceACLs(a agentapi.FenceACL) *kadm.ACLBuilder {
	return kadm.NewACLs().Topics(a.Topics...).ResourcePatternType(kadm.ACLPatternLiteral).
		Deny(a.Principal).DenyHosts(a.Host).Operations(kadm.OpWrite)
}

func noAuthorizer(cluster string) error {
	return refuse(http.StatusConflict, "", "cluster %s has no authorizer, so it cannot be fenced with ACLs: enable an authorizer there, or set the policy's fencing to \"none\" and stop the producers yourself before a planned failover", cluster)
}

// topicWriters is what a cluster's ACLs say about writing to one topic.
type topicWriters struct {
	allowed map[string]bool // principals an ALLOW Write or All names
	named   bool            // some ACL, of any kind, applies to the topic
	// denied: principals that already have exactly a fence's binding
	// there, which the fence neither makes nor, when lifted, removes.
	denied map[string]bool
}

// writersOf reads the topic ACLs acls for topic as the authorizer matches
// them: literal by name or the * wildcard, prefixed by prefix.
func writersOf(acls []kadm.DescribedACL, topic string) topicWriters {
	w := topicWriters{allowed: map[string]bool{}, denied: map[string]bool{}}
	for _, a := range acls {
		matches := a.Type == kmsg.ACLResourceTypeTopic &&
			(a.Pattern == kadm.ACLPatternLiteral && (a.Name == topic || a.Name == "*") ||
				a.Pattern == kadm.ACLPatternPrefixed && strings.HasPrefix(topic, a.Name))
		if !matches {
			continue
		}
		w.named = true
		switch {
		case a.Permission == kmsg.ACLPermissionTypeAllow && (a.Operation == kadm.OpWrite || a.Operation == kadm.OpAll):
			w.allowed[a.Principal] = true
		case a.Permission == kmsg.ACLPermissionTypeDeny && a.Operation == kadm.OpWrite && a.Host == "*" &&
			a.Pattern == kadm.ACLPatternLiteral && a.Name == topic:
			w.denied[a.Principal] = true
		}
	}
	return w
}

// topicACLs answers every topic ACL of the cluster cl reaches.
func topicACLs(ctx context.Context, cl *kgo.Client) ([]kadm.DescribedACL, error) {
	described, err := kadm.NewClient(cl).DescribeACLs(ctx, kadm.NewACLs().Topics().ResourcePatternType(kadm.ACLPatternAny).
		Allow().AllowHosts().Deny().DenyHosts().Operations(kadm.OpAny))
	var acls []kadm.DescribedACL
	for _, r := range described {
		err = cmp.Or(err, r.Err)
		acls = append(acls, r.Described...)
	}
	return acls, err
}

// planFence answers the fence a planned failover from cluster makes on
// topics: a DENY Write for each principal the ACLs allow to write there,
// the agent's own excepted; for User:* where anyone may. It refuses what
// cannot be fenced without locking the agent out too.
func (e *Executor) planFence(ctx context.Context, cluster string, topics []string) (agentapi.Fence, error) {
	f := agentapi.Fence{Cluster: cluster}
	if len(topics) == 0 {
		return f, nil
	}
	conn, err := e.Store.Conn(cluster)
	if err != nil {
		return f, err
	}
	self, err := kafkaconn.Principal(conn)
	if err != nil {
		return f, err
	}
	cl, _, err := e.client(cluster)
	if err != nil {
		return f, err
	}
	defer cl.Close()
	acls, err := topicACLs(ctx, cl)
	if errors.Is(err, kerr.SecurityDisabled) {
		return f, noAuthorizer(cluster)
	}
	if err != nil {
		return f, refuse(http.StatusConflict, "", "a planned failover fences %s with ACLs and must read them first, which failed (%v): give the agent's user %s Describe and Alter on the cluster %s, or set the policy's fencing to \"none\"", cluster, err, self, cluster)
	}

	byPrincipal := map[string][]string{}
	var open, deniedToAnyone []string // topics anyone may write; topics User:* is denied already
	selfDenied := map[string]bool{}   // topics where a DENY Write applies to the agent already
	for _, t := range topics {
		w := writersOf(acls, t)
		if !w.named || w.allowed[anyone] {
			open = append(open, t)
		}
		if w.denied[anyone] {
			deniedToAnyone = append(deniedToAnyone, t)
		}
		selfDenied[t] = w.denied[anyone] || w.denied[self]
		for p := range w.allowed {
			if p != self && p != anyone && !w.denied[p] {
				byPrincipal[p] = append(byPrincipal[p], t)
			}
		}
	}
	if len(open) > 0 {
		// Per-principal ACLs cannot stop principals nobody named.
		super, err := superUser(ctx, cl, self, open[0], selfDenied[open[0]])
		if err != nil {
			return f, refuse(http.StatusConflict, "", "anyone may write to %s on %s, so a planned failover must fence them against every principal, and the agent could not tell whether its own user %s is a super user there, whom that fence does not stop (%v): retry, or set the policy's fencing to \"none\"", someOf(open), cluster, self, err)
		}
		if !super {
			return f, refuse(http.StatusConflict, "", "a planned failover must fence %s against every principal, because anyone may write to %s (an ALLOW for User:*, or no ACL names the topic); that fence would also stop the agent's own user %s, which is not a super user there, and after the failover the agent could not mirror back into %s: "+
				"make %s a super user of %s, or replace the ALLOW ACLs for User:* on the mirrored topics with ACLs per principal, or set the policy's fencing to \"none\" and stop the producers yourself",
				cluster, someOf(open), self, cluster, self, cluster)
		}
		if rest := slices.DeleteFunc(slices.Clone(topics), func(t string) bool { return slices.Contains(deniedToAnyone, t) }); len(rest) > 0 {
			f.ACLs = []agentapi.FenceACL{{Principal: anyone, Host: "*", Topics: rest}}
		}
		return f, nil
	}
	for p, ts := range byPrincipal {
		f.ACLs = append(f.ACLs, agentapi.FenceACL{Principal: p, Host: "*", Topics: ts})
	}
	slices.SortFunc(f.ACLs, func(a, b agentapi.FenceACL) int { return strings.Compare(a.Principal, b.Principal) })
	return f, nil
}

// someOf names the first few of topics, for a message.
func someOf(topics []string) string {
	const few = 5
	if len(topics) <= few {
		return strings.Join(topics, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(topics[:few], ", "), len(topics)-few)
}

// superUser answers whether self, the agent's principal, is a super user of
// the cluster cl reaches: whether it may still write to topic while a DENY
// Write for it applies there. Unless one does already (denied), a probe
// DENY for self alone is made and removed again; it stops nobody else.
func superUser(ctx context.Context, cl *kgo.Client, self, topic string, denied bool) (bool, error) {
	brokers, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return false, err
	}
	if len(brokers.Brokers) == 0 {
		return false, errors.New("no broker in the metadata")
	}
	// One broker answers both: once its DescribeACLs lists the probe, its
	// authorizer applies it (brokers learn ACLs from the metadata log).
	br := cl.Broker(int(brokers.Brokers[0].NodeID))
	if !denied {
		if may, err := mayWrite(ctx, br, topic); err != nil || !may {
			return false, err // a user that cannot write now is no super user
		}
		probe := agentapi.FenceACL{Principal: self, Host: "*", Topics: []string{topic}}
		if err := createACLs(ctx, cl, probe); err != nil {
			return false, err
		}
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, _ = deleteACLs(dctx, cl, probe)
		}()
		if err := waitListed(ctx, br, probe); err != nil {
			return false, err
		}
	}
	return mayWrite(ctx, br, topic)
}

// mayWrite asks br whether the client may write to topic.
func mayWrite(ctx context.Context, br *kgo.Broker, topic string) (bool, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	req.IncludeTopicAuthorizedOperations = true
	resp, err := req.RequestWith(ctx, br)
	if err != nil {
		return false, err
	}
	for _, rt := range resp.Topics {
		if rt.Topic == nil || *rt.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			if errors.Is(err, kerr.TopicAuthorizationFailed) {
				return false, nil
			}
			return false, fmt.Errorf("metadata of %s: %w", topic, err)
		}
		if rt.AuthorizedOperations == -2147483648 {
			return false, fmt.Errorf("the broker does not report authorized operations of %s (Kafka 2.3 or later does)", topic)
		}
		return slices.Contains(kadm.DecodeACLOperations(rt.AuthorizedOperations), kadm.OpWrite), nil
	}
	return false, fmt.Errorf("metadata of %s: the topic is missing from the answer", topic)
}

// waitListed waits, for 10 seconds at most, until br lists the ACL a.
func waitListed(ctx context.Context, br *kgo.Broker, a agentapi.FenceACL) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType, req.ResourceName, req.ResourcePatternType = kmsg.ACLResourceTypeTopic, kmsg.StringPtr(a.Topics[0]), kmsg.ACLResourcePatternTypeLiteral
		req.Principal, req.Host = kmsg.StringPtr(a.Principal), kmsg.StringPtr(a.Host)
		req.Operation, req.PermissionType = kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeDeny
		resp, err := req.RequestWith(ctx, br)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			return err
		}
		if len(resp.Resources) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the broker did not apply a new ACL within 10s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func createACLs(ctx context.Context, cl *kgo.Client, a agentapi.FenceACL) error {
	results, err := kadm.NewClient(cl).CreateACLs(ctx, fenceACLs(a))
	for _, r := range results {
		err = cmp.Or(err, r.Err)
	}
	return err
}

func deleteACLs(ctx context.Context, cl *kgo.Client, a agentapi.FenceACL) (int, error) {
	results, err := kadm.NewClient(cl).DeleteACLs(ctx, fenceACLs(a))
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, r := range results {
		if r.Err != nil {
			return removed, r.Err
		}
		removed += len(r.Deleted)
	}
	return removed, nil
}

// fence makes f's ACLs on cl; a cluster without an authorizer is told apart
// so that the user learns what to do.
func fence(ctx context.Context, cl *kgo.Client, f agentapi.Fence) error {
	for _, a := range f.Denied() {
		if len(a.Topics) == 0 {
			continue
		}
		err := createACLs(ctx, cl, a)
		if errors.Is(err, kerr.SecurityDisabled) {
			return noAuthorizer(f.Cluster)
		}
		if err != nil {
			return fmt.Errorf("fence writes on %s: %w", f.Cluster, err)
		}
	}
	return nil
}

// unfence deletes f's ACLs from cl and answers how many it found; ACLs that
// were never made are no error.
func unfence(ctx context.Context, cl *kgo.Client, f agentapi.Fence) (int, error) {
	removed := 0
	for _, a := range f.Denied() {
		if len(a.Topics) == 0 {
			continue
		}
		n, err := deleteACLs(ctx, cl, a)
		removed += n
		if errors.Is(err, kerr.SecurityDisabled) {
			return removed, nil // never fenced
		}
		if err != nil {
			return removed, err
		}
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
		log.Error("could not lift the fence: remove its DENY Write ACLs by hand", "cluster", f.Cluster, "acls", f.Denied(), "error", err)
		return fmt.Errorf("the fence on %s could not be lifted (%v): remove these DENY Write ACLs from it by hand: %s", f.Cluster, err, describeFence(f))
	}
	log.Info("fence lifted", "cluster", f.Cluster, "acls", f.Denied(), "acls_removed", removed)
	return nil
}

// describeFence says what a fence denies, for a person.
func describeFence(f agentapi.Fence) string {
	var parts []string
	for _, a := range f.Denied() {
		parts = append(parts, fmt.Sprintf("%s from host %s on topics %v", a.Principal, a.Host, a.Topics))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}
