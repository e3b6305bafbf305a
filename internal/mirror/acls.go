package mirror

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// This file owns the ACL sync: which source ACLs a mirror copies, which it
// holds until a failover, and how the agent makes and removes exactly the
// ACLs it owns. Kafka ACLs carry no owner, so the state topic records the
// ACLs the agent made (store.MirrorACLs): an ACL on the target that is not
// in that record was made by someone else and is never changed.

// SyncsACLs reports whether mirror m copies ACLs: sync_acls, on by default.
func SyncsACLs(m agentapi.Mirror) bool { return m.SyncACLs == nil || *m.SyncACLs }

// mutating are the operations whose topic ACLs are held until a failover:
// with them applied, the standby would take the applications' writes.
var mutating = map[kmsg.ACLOperation]bool{
	kmsg.ACLOperationWrite: true, kmsg.ACLOperationCreate: true, kmsg.ACLOperationDelete: true,
	kmsg.ACLOperationAlter: true, kmsg.ACLOperationAlterConfigs: true, kmsg.ACLOperationIdempotentWrite: true,
	kmsg.ACLOperationAll: true,
}

// aclBook is where a mirror's ACL sync keeps what it owns: the state topic.
type aclBook interface {
	MirrorACLs(mirror, target string) (store.MirrorACLs, bool)
	PutMirrorACLs(ctx context.Context, mirror string, a store.MirrorACLs) error
	Fences(cluster string) []agentapi.FenceACL
}

func apiACL(d kadm.DescribedACL) agentapi.ACL {
	return agentapi.ACL{ResourceType: d.Type.String(), ResourceName: d.Name, PatternType: d.Pattern.String(),
		Principal: d.Principal, Host: d.Host, Operation: d.Operation.String(), Permission: d.Permission.String()}
}

// binding is an ACL in Kafka's enums.
type binding struct {
	resource   kmsg.ACLResourceType
	pattern    kmsg.ACLResourcePatternType
	operation  kmsg.ACLOperation
	permission kmsg.ACLPermissionType
}

func bindingOf(a agentapi.ACL) (binding, error) {
	var b binding
	var errs [4]error
	b.resource, errs[0] = kmsg.ParseACLResourceType(a.ResourceType)
	b.pattern, errs[1] = kmsg.ParseACLResourcePatternType(a.PatternType)
	b.operation, errs[2] = kmsg.ParseACLOperation(a.Operation)
	b.permission, errs[3] = kmsg.ParseACLPermissionType(a.Permission)
	return b, errors.Join(errs[:]...)
}

// Held reports whether the sync holds ACL a until a failover applies it.
func Held(a agentapi.ACL) bool {
	b, err := bindingOf(a)
	return err == nil && b.resource == kmsg.ACLResourceTypeTopic && mutating[b.operation]
}

// DescribeACLs answers every topic and group ACL of the cluster cl reaches.
func DescribeACLs(ctx context.Context, cl *kgo.Client) ([]agentapi.ACL, error) {
	described, err := kadm.NewClient(cl).DescribeACLs(ctx, kadm.NewACLs().Topics().Groups().ResourcePatternType(kadm.ACLPatternAny).
		Allow().AllowHosts().Deny().DenyHosts().Operations(kadm.OpAny))
	var out []agentapi.ACL
	for _, r := range described {
		err = cmp.Or(err, r.Err)
		for _, d := range r.Described {
			out = append(out, apiACL(d))
		}
	}
	return out, err
}

// ApplyACLs makes acls on the cluster cl reaches, and answers those it made
// and, per ACL, why it could not make the others. err is a failure of the
// whole request: no authorizer, no broker.
func ApplyACLs(ctx context.Context, cl *kgo.Client, acls []agentapi.ACL) (made []agentapi.ACL, _ []agentapi.ACLError, err error) {
	if len(acls) == 0 {
		return nil, nil, nil
	}
	req := kmsg.NewPtrCreateACLsRequest()
	sent, bindings, failed := parsed(acls)
	for i, a := range sent {
		b := bindings[i]
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = b.resource, a.ResourceName, b.pattern
		c.Principal, c.Host, c.Operation, c.PermissionType = a.Principal, a.Host, b.operation, b.permission
		req.Creations = append(req.Creations, c)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, failed, err
	}
	return sortOut(sent, answersOf(resp.Results, func(r kmsg.CreateACLsResponseResult) answer { return answer{r.ErrorCode, r.ErrorMessage} }), failed)
}

// parsed answers the ACLs in Kafka's enums, and as failed those with a name
// Kafka does not know.
func parsed(acls []agentapi.ACL) (ok []agentapi.ACL, bindings []binding, failed []agentapi.ACLError) {
	for _, a := range acls {
		b, err := bindingOf(a)
		if err != nil {
			failed = append(failed, agentapi.ACLError{ACL: a, Error: err.Error()})
			continue
		}
		ok, bindings = append(ok, a), append(bindings, b)
	}
	return ok, bindings, failed
}

// answer is Kafka's answer to one ACL of a request.
type answer struct {
	code int16
	msg  *string
}

func answersOf[R any](results []R, of func(R) answer) []answer {
	out := make([]answer, len(results))
	for i, r := range results {
		out[i] = of(r)
	}
	return out
}

// sortOut pairs the ACLs sent with their answers, in order, into those
// done and those failed (added to failed); err is one that fails them all.
func sortOut(sent []agentapi.ACL, answers []answer, failed []agentapi.ACLError) (done []agentapi.ACL, _ []agentapi.ACLError, _ error) {
	for i, a := range answers[:min(len(answers), len(sent))] {
		err := kerr.ErrorForCode(a.code)
		switch {
		case errors.Is(err, kerr.SecurityDisabled):
			return done, failed, err
		case err != nil:
			failed = append(failed, agentapi.ACLError{ACL: sent[i], Error: aclError(err, a.msg)})
		default:
			done = append(done, sent[i])
		}
	}
	return done, failed, nil
}

// RemoveACLs deletes exactly acls from the cluster cl reaches (each filter
// matches one binding), and answers those that are gone now and, per ACL,
// why the others are not.
func RemoveACLs(ctx context.Context, cl *kgo.Client, acls []agentapi.ACL) (gone []agentapi.ACL, _ []agentapi.ACLError, err error) {
	if len(acls) == 0 {
		return nil, nil, nil
	}
	req := kmsg.NewPtrDeleteACLsRequest()
	sent, bindings, failed := parsed(acls)
	for i, a := range sent {
		b := bindings[i]
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourceName, f.ResourcePatternType = b.resource, kmsg.StringPtr(a.ResourceName), b.pattern
		f.Principal, f.Host, f.Operation, f.PermissionType = kmsg.StringPtr(a.Principal), kmsg.StringPtr(a.Host), b.operation, b.permission
		req.Filters = append(req.Filters, f)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, failed, err
	}
	return sortOut(sent, answersOf(resp.Results, func(r kmsg.DeleteACLsResponseResult) answer { return answer{r.ErrorCode, r.ErrorMessage} }), failed)
}

// aclError says why Kafka refused one ACL. The broker's own message is
// kept when it is short: Apache Kafka's for a refused authorization quotes
// the whole request, and the status is no place for that.
func aclError(err error, msg *string) string {
	s := err.Error()
	if errors.Is(err, kerr.ClusterAuthorizationFailed) {
		return s + ": give the agent's user Alter on the cluster to make and remove ACLs there"
	}
	if msg != nil && *msg != "" && len(*msg) <= 200 {
		s += ": " + *msg
	}
	return s
}

// SortACLs orders acls by every field, for records and answers that do not
// change with the order Kafka lists them in.
func SortACLs(acls []agentapi.ACL) {
	slices.SortFunc(acls, func(a, b agentapi.ACL) int {
		return cmp.Or(strings.Compare(a.ResourceType, b.ResourceType), strings.Compare(a.PatternType, b.PatternType),
			strings.Compare(a.ResourceName, b.ResourceName), strings.Compare(a.Principal, b.Principal),
			strings.Compare(a.Host, b.Host), strings.Compare(a.Operation, b.Operation), strings.Compare(a.Permission, b.Permission))
	})
}

// wantedACLs answers the source ACLs that mirror m copies, named as on the
// target: now are applied at once, held wait for a failover. They are the
// ACLs of the mirrored topics and the selected groups: literal by a name
// the selection matches, prefixed by a prefix of a mirrored topic or
// selected group, or one the selection may take names of (a consumer's
// group ACL must be there before its group is); the fence ACLs of the agent's failovers are
// left out. Wildcard (*) ACLs name every topic or group, not the mirrored
// ones, and are not copied.
func wantedACLs(m agentapi.Mirror, topics, groups Selector, mirrored, selectedGroups []string, fences []agentapi.FenceACL, source []agentapi.ACL) (now, held []agentapi.ACL) {
	fenced := map[[3]string]bool{}
	for _, f := range fences {
		for _, t := range f.Topics {
			fenced[[3]string{f.Principal, f.Host, t}] = true
		}
	}
	anyStarts := func(sel Selector, names []string, prefix string) bool {
		return sel.mayStartWith(prefix) || slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, prefix) })
	}
	for _, a := range source {
		b, err := bindingOf(a)
		if err != nil || a.ResourceName == "*" {
			continue
		}
		literal := b.pattern == kmsg.ACLResourcePatternTypeLiteral
		prefixed := b.pattern == kmsg.ACLResourcePatternTypePrefixed
		switch b.resource {
		case kmsg.ACLResourceTypeTopic:
			if b.permission == kmsg.ACLPermissionTypeDeny && b.operation == kmsg.ACLOperationWrite && literal && fenced[[3]string{a.Principal, a.Host, a.ResourceName}] {
				continue // the agent's own fence
			}
			internal := strings.HasPrefix(a.ResourceName, InternalPrefix) || IsQuarantine(a.ResourceName)
			if internal || !(literal && topics.Matches(a.ResourceName) || prefixed && anyStarts(topics, mirrored, a.ResourceName)) {
				continue
			}
			a.ResourceName = TargetTopic(m.ReplicationPolicy, m.Source, a.ResourceName)
			if mutating[b.operation] {
				held = append(held, a)
				continue
			}
		case kmsg.ACLResourceTypeGroup:
			if strings.HasPrefix(a.ResourceName, "__kfo") || !(literal && groups.Matches(a.ResourceName) || prefixed && anyStarts(groups, selectedGroups, a.ResourceName)) {
				continue
			}
		default:
			continue
		}
		now = append(now, a)
	}
	SortACLs(now)
	SortACLs(held)
	return slices.Compact(now), slices.Compact(held)
}

// syncACLs is one round of the mirror's ACL sync: the ACLs the source has
// now are made on the target (or held), and those the agent made there that
// the source no longer has are removed. A failure is recorded in the
// mirror's status and retried at the next refresh; the mirror copies on.
func (r *runner) syncACLs(ctx context.Context, src, dst *kgo.Client) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	prev, _ := r.book.MirrorACLs(r.m.Name, r.m.Target)
	next := store.MirrorACLs{Target: r.m.Target, ACLSync: agentapi.ACLSync{Applied: prev.Applied, Held: prev.Held}}
	next.Reason = r.aclRound(ctx, src, dst, &next.ACLSync)
	if next.Applied == nil {
		next.Applied = []agentapi.ACL{}
	}
	if next.Held == nil {
		next.Held = []agentapi.ACL{}
	}
	if reflect.DeepEqual(next, prev) {
		return
	}
	if err := r.book.PutMirrorACLs(ctx, r.m.Name, next); err != nil {
		r.log.Warn("could not record the mirror's ACL sync; retrying at the next refresh", "error", err)
		return
	}
	if next.Reason != "" && next.Reason != prev.Reason {
		r.log.Warn("ACLs not synced", "reason", next.Reason)
	}
	for _, e := range next.Errors {
		r.log.Warn("ACL not synced", "acl", e.ACL, "error", e.Error)
	}
}

// aclRound does a round's work on sync and answers why it could do none.
func (r *runner) aclRound(ctx context.Context, src, dst *kgo.Client, sync *agentapi.ACLSync) string {
	source, err := DescribeACLs(ctx, src)
	if errors.Is(err, kerr.SecurityDisabled) {
		return fmt.Sprintf("the source %s has no authorizer: it has no ACLs to copy", r.m.Source)
	}
	if err != nil {
		return fmt.Sprintf("the ACLs on the source %s cannot be described (%v): give the agent's user Describe on the cluster there, or set sync_acls to false", r.m.Source, err)
	}
	groups, err := CompileSelector("groups", r.m.Groups)
	if err != nil {
		return err.Error()
	}
	var selected []string
	if slices.ContainsFunc(source, func(a agentapi.ACL) bool { return a.ResourceType == "GROUP" && a.PatternType == "PREFIXED" }) {
		listed, err := kadm.NewClient(src).ListGroups(ctx)
		if err != nil {
			return fmt.Sprintf("the groups on the source %s cannot be listed (%v)", r.m.Source, err)
		}
		for _, g := range listed.Groups() {
			if groups.Matches(g) {
				selected = append(selected, g)
			}
		}
	}
	var mirrored []string
	for source := range r.targets() {
		mirrored = append(mirrored, source)
	}
	now, held := wantedACLs(r.m, r.sel, groups, mirrored, selected, r.book.Fences(r.m.Source), source)
	sync.Held = held
	target, err := DescribeACLs(ctx, dst)
	if errors.Is(err, kerr.SecurityDisabled) {
		return fmt.Sprintf("the target %s has no authorizer: the source's ACLs cannot be made there", r.m.Target)
	}
	if err != nil {
		return fmt.Sprintf("the ACLs on the target %s cannot be described (%v): give the agent's user Describe and Alter on the cluster there, or set sync_acls to false", r.m.Target, err)
	}
	onTarget, wanted := setOf(target), setOf(now)
	var create, remove, owned []agentapi.ACL
	for _, a := range now {
		if !onTarget[a] {
			create = append(create, a)
		}
	}
	for _, a := range sync.Applied {
		switch {
		case !onTarget[a]: // removed by hand; made again below if wanted
		case wanted[a]:
			owned = append(owned, a)
		default:
			remove = append(remove, a)
		}
	}
	made, failed, err := ApplyACLs(ctx, dst, create)
	if err != nil {
		return fmt.Sprintf("the ACLs cannot be made on the target %s: %v", r.m.Target, err)
	}
	// Owned until gone: a failure below must not lose what was made.
	sync.Applied = slices.Concat(owned, made, remove)
	SortACLs(sync.Applied)
	gone, notGone, err := RemoveACLs(ctx, dst, remove)
	if err != nil {
		return fmt.Sprintf("the ACLs the source no longer has cannot be removed from the target %s: %v", r.m.Target, err)
	}
	removed := setOf(gone)
	sync.Applied = slices.DeleteFunc(sync.Applied, func(a agentapi.ACL) bool { return removed[a] })
	sync.Errors = append(failed, notGone...)
	return ""
}

func setOf(acls []agentapi.ACL) map[agentapi.ACL]bool {
	out := make(map[agentapi.ACL]bool, len(acls))
	for _, a := range acls {
		out[a] = true
	}
	return out
}
