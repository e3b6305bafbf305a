package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/failover"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
)

// The applications' own SCRAM users, on both clusters: a producer and a
// consumer, neither a super user.
const (
	producerUser     = "producer"
	producerPassword = "producer-secret-pw"
	consumerUser     = "consumer"
	consumerPassword = "consumer-secret-pw"
)

var applicationUsers = map[string]string{producerUser: producerPassword, consumerUser: consumerPassword}

func allowed(resource, pattern, name, user, op string) agentapi.ACL {
	return agentapi.ACL{ResourceType: resource, PatternType: pattern, ResourceName: name, Principal: "User:" + user, Host: "*", Operation: op, Permission: "ALLOW"}
}

// The ACLs an operator gives the applications on north-america.
var (
	producerWrite = allowed("TOPIC", "PREFIXED", "LH.", producerUser, "WRITE")
	consumerRead  = allowed("TOPIC", "PREFIXED", "LH.", consumerUser, "READ")
	consumerGroup = allowed("GROUP", "PREFIXED", "consumer-", consumerUser, "READ")
)

func allowApplications(t *testing.T, c kafkatest.Kafka) {
	t.Helper()
	mustCreateACLs(t, c, kadm.NewACLs().Allow("User:"+producerUser).AllowHosts().ResourcePatternType(kadm.ACLPatternPrefixed).
		Topics("LH.").Operations(kadm.OpWrite, kadm.OpDescribe))
	mustCreateACLs(t, c, kadm.NewACLs().Allow("User:"+consumerUser).AllowHosts().ResourcePatternType(kadm.ACLPatternPrefixed).
		Topics("LH.").Groups("consumer-").Operations(kadm.OpRead, kadm.OpDescribe))
}

// builderOf answers the builder of exactly one ALLOW ACL.
func builderOf(a agentapi.ACL) *kadm.ACLBuilder {
	b := kadm.NewACLs().Allow(a.Principal).AllowHosts(a.Host)
	pattern := kadm.ACLPatternLiteral
	if a.PatternType == "PREFIXED" {
		pattern = kadm.ACLPatternPrefixed
	}
	b.ResourcePatternType(pattern)
	if a.ResourceType == "GROUP" {
		b.Groups(a.ResourceName)
	} else {
		b.Topics(a.ResourceName)
	}
	op := map[string]kadm.ACLOperation{"READ": kadm.OpRead, "WRITE": kadm.OpWrite, "DESCRIBE": kadm.OpDescribe, "ALL": kadm.OpAll}[a.Operation]
	return b.Operations(op)
}

func aclsOn(t *testing.T, c kafkatest.Kafka) []agentapi.ACL {
	t.Helper()
	acls, err := mirror.DescribeACLs(context.Background(), clientOf(t, c))
	if err != nil {
		t.Fatal(err)
	}
	return acls
}

// consumeAs reads topic from the start as user in group until it has n
// records, within 30 seconds, and answers how many it read.
func consumeAs(t *testing.T, opts []kgo.Opt, bootstrap []string, group, topic string, n int) int {
	t.Helper()
	cl := kafkatest.Client(t, bootstrap, append(opts, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	read := 0
	for read < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s read %d of %d records of %s within 30s", group, read, n, topic)
		}
		for _, e := range fetches.Errors() {
			t.Fatalf("%s reading %s: %v", group, topic, e.Err)
		}
		read += fetches.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("%s commits on %s: %v", group, topic, err)
	}
	return read
}

func TestACLSyncLetsApplicationsReadOnTheStandbyAndWriteOnlyFromTheFlip(t *testing.T) {
	kafkatest.EachKind(t, aclSyncLetsApplicationsReadOnTheStandbyAndWriteOnlyFromTheFlip)
}

// aclSyncLetsApplicationsReadOnTheStandbyAndWriteOnlyFromTheFlip: the
// consumer's ACLs reach europe at once and it reads there; the producer's
// Write is held, so it cannot write there until the failover applies it
// before the flip, and then it can at once. An ACL removed on the source
// goes from the target; ACLs made on the target by hand stay, also one the
// source had too.
func aclSyncLetsApplicationsReadOnTheStandbyAndWriteOnlyFromTheFlip(t *testing.T, kind string) {
	s := newFailoverSetupWith(t, setupOptions{kind: kind, fencing: agentapi.FencingACL, secure: true, tasksMax: 1,
		naUsers: applicationUsers, euUsers: applicationUsers})
	allowApplications(t, s.na)
	auditPrefix := allowed("TOPIC", "PREFIXED", "LH.ORD", "auditor", "DESCRIBE")
	auditLiteral := allowed("TOPIC", "LITERAL", "LH.ORDERS", "auditor", "DESCRIBE")
	handMade := allowed("TOPIC", "LITERAL", "LH.ORDERS", "ops", "READ")
	mustCreateACLs(t, s.na, builderOf(auditPrefix))
	mustCreateACLs(t, s.na, builderOf(auditLiteral))
	mustCreateACLs(t, s.eu, builderOf(auditLiteral)) // by hand on europe too
	mustCreateACLs(t, s.eu, builderOf(handMade))

	createTopicOn(t, s.na, "LH.ORDERS", 1, nil)
	producer := kafkatest.NewProducer(t, s.na.Bootstrap(), s.na.UserOpts(producerUser, producerPassword)...)
	producer.Produce(t, "LH.ORDERS", 1, 10)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 10)

	kafkatest.Eventually(t, 30*time.Second, "europe has the consumer's ACLs, and the agent holds the producer's", func() (bool, string) {
		on, st := aclsOn(t, s.eu), s.agent.status("na-to-eu").ACLs
		ok := st != nil && slices.Contains(st.Held, producerWrite) && slices.Contains(on, consumerRead) && slices.Contains(on, consumerGroup) && slices.Contains(on, auditPrefix)
		return ok, fmt.Sprintf("on europe %v; sync %+v", on, st)
	})
	if slices.Contains(aclsOn(t, s.eu), producerWrite) {
		t.Fatal("the producer's Write ACL is on the standby before the failover")
	}
	// The consumer reads the standby, in a group of its own.
	consumeAs(t, s.eu.UserOpts(consumerUser, consumerPassword), s.eu.Bootstrap(), "consumer-standby", "LH.ORDERS", 10)
	// The producer cannot write there.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	standbyProducer := kafkatest.NewProducer(t, s.eu.Bootstrap(), s.eu.UserOpts(producerUser, producerPassword)...)
	if err := standbyProducer.TryProduce(ctx, "LH.ORDERS", 1, 1); err == nil || !strings.Contains(err.Error(), "AUTHORIZATION") {
		t.Fatalf("the producer writes to the standby before the failover: %v", err)
	}

	// Removed on the source: gone from the target; the target's own stay.
	for _, a := range []agentapi.ACL{auditPrefix, auditLiteral} {
		if _, err := kadm.NewClient(clientOf(t, s.na)).DeleteACLs(context.Background(), builderOf(a)); err != nil {
			t.Fatal(err)
		}
	}
	kafkatest.Eventually(t, 30*time.Second, "the ACL removed on north-america goes from europe", func() (bool, string) {
		on := aclsOn(t, s.eu)
		return !slices.Contains(on, auditPrefix), fmt.Sprint(on)
	})
	if on := aclsOn(t, s.eu); !slices.Contains(on, auditLiteral) || !slices.Contains(on, handMade) {
		t.Fatalf("ACLs made on europe by hand were removed: %v", on)
	}

	var fc agentapi.Forecast
	if code := s.agent.call("GET", "/v1/policies/loosehanger/forecast?to=europe", nil, &fc); code != 200 || !slices.Contains(fc.Report.ACLsApplied, producerWrite) {
		t.Fatalf("forecast: HTTP %d, ACLs the flip would apply %v; want %v among them", code, fc.Report.ACLsApplied, producerWrite)
	}

	code, res, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: "go"})
	if code != 200 {
		t.Fatalf("planned failover: HTTP %d %+v", code, e.Error)
	}
	if !slices.Contains(res.Report.ACLsApplied, producerWrite) || len(res.Report.ACLErrors) > 0 {
		t.Fatalf("the failover applied %v with errors %v; want %v among them", res.Report.ACLsApplied, res.Report.ACLErrors, producerWrite)
	}
	for _, a := range res.Report.ACLsApplied {
		if a.Permission == "DENY" {
			t.Fatalf("the failover applied a DENY (its own fence?): %+v", a)
		}
	}
	// The producer writes to the new active the moment it is active.
	activeProducer := kafkatest.NewProducer(t, s.eu.Bootstrap(), s.eu.UserOpts(producerUser, producerPassword)...)
	if err := activeProducer.TryProduce(context.Background(), "LH.ORDERS", 1, 5); err != nil {
		t.Fatalf("the producer cannot write to the new active cluster right after the failover: %v", err)
	}
	if n := consumeAs(t, s.eu.UserOpts(consumerUser, consumerPassword), s.eu.Bootstrap(), "consumer-after", "LH.ORDERS", 15); n != 15 {
		t.Fatalf("the consumer read %d records on the new active, want 15", n)
	}
	if denied := denyACLs(t, s.eu); len(denied) > 0 {
		t.Fatalf("DENY ACLs on the new active cluster: %q", denied)
	}
	t.Logf("held and applied by the flip: %v", res.Report.ACLsApplied)
}

// A failover stopped after it applied the held ACLs is aborted by the
// restarted agent: it removes exactly the ACLs it made, leaves the one
// europe had already, and the producer cannot write to the standby again.
func TestAFailoverAbortedAfterItAppliedTheHeldACLsRemovesExactlyThose(t *testing.T) {
	s := newFailoverSetupWith(t, setupOptions{fencing: agentapi.FencingACL, secure: true, tasksMax: 1,
		naUsers: applicationUsers, euUsers: applicationUsers,
		agentEnv: []string{"KFO_TEST_HALT_FAILOVER_AFTER=" + failover.StepGranted}})
	a := s.agent
	allowApplications(t, s.na)
	allowApp(t, s.eu) // the app's ALLOW All on LH., made on europe by hand before
	appAll := allowed("TOPIC", "PREFIXED", "LH.", appUser, "ALL")
	createTopicOn(t, s.na, "LH.ORDERS", 1, nil)
	producerOf(t, s.na).Produce(t, "LH.ORDERS", 1, 10)
	waitMirroredTopic(t, a, "LH.ORDERS", 1, 10)
	kafkatest.Eventually(t, 30*time.Second, "the agent holds the producer's Write ACL", func() (bool, string) {
		st := a.status("na-to-eu").ACLs
		return st != nil && slices.Contains(st.Held, producerWrite) && slices.Contains(st.Held, appAll), fmt.Sprintf("%+v", st)
	})

	restart := haltedFailover(t, a, "interrupted", failover.StepGranted)
	if on := aclsOn(t, s.eu); !slices.Contains(on, producerWrite) {
		t.Fatalf("the failover stopped after it granted, but europe lacks the producer's Write ACL: %v", on)
	}
	restart()
	var p agentapi.Policy
	kafkatest.Eventually(t, 45*time.Second, "the interrupted failover is aborted", func() (bool, string) {
		p = agentapi.Policy{}
		a.call("GET", "/v1/policies/loosehanger", nil, &p)
		return p.InProgress == nil && p.LastFailover != nil && p.LastFailover.Outcome == agentapi.OutcomeAborted && p.Active == "north-america",
			fmt.Sprintf("active %s, in progress %+v, last %+v", p.Active, p.InProgress, p.LastFailover)
	})
	on := aclsOn(t, s.eu)
	if slices.Contains(on, producerWrite) {
		t.Fatalf("the aborted failover left the producer's Write ACL on the standby: %v", on)
	}
	if !slices.Contains(on, appAll) {
		t.Fatalf("the aborted failover removed an ACL europe had before it: %v", on)
	}
	a.waitLogged(t, 10*time.Second, `"msg":"ACLs the failover applied removed"`, `"cluster":"europe"`)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	prod := kafkatest.NewProducer(t, s.eu.Bootstrap(), s.eu.UserOpts(producerUser, producerPassword)...)
	if err := prod.TryProduce(ctx, "LH.ORDERS", 1, 1); err == nil || !strings.Contains(err.Error(), "AUTHORIZATION") {
		t.Fatalf("the producer writes to the standby after the aborted failover: %v", err)
	}
	t.Logf("aborted (%s); europe's ACLs: %v", p.LastFailover.Reason, on)
}

func TestACLsTheAgentMayNotMakeAreReportedPerACLAndTheMirrorCopiesOn(t *testing.T) {
	kafkatest.EachKind(t, aclsTheAgentMayNotMakeAreReportedPerACLAndTheMirrorCopiesOn)
}

// aclsTheAgentMayNotMakeAreReportedPerACLAndTheMirrorCopiesOn: the agent's
// user on europe may describe ACLs but not alter them: each ACL the sync
// would make is reported with Kafka's refusal, and records are mirrored.
func aclsTheAgentMayNotMakeAreReportedPerACLAndTheMirrorCopiesOn(t *testing.T, kind string) {
	s := newFailoverSetupWith(t, setupOptions{kind: kind, fencing: agentapi.FencingNone, secure: true, tasksMax: 1,
		naUsers: applicationUsers, euUsers: map[string]string{agentUser: agentPassword}})
	mustCreateACLs(t, s.eu, kadm.NewACLs().Allow("User:"+agentUser).AllowHosts().ResourcePatternType(kadm.ACLPatternLiteral).
		Topics("*").Groups("*").TransactionalIDs("*").Operations(kadm.OpAll))
	mustCreateACLs(t, s.eu, kadm.NewACLs().Allow("User:"+agentUser).AllowHosts().Clusters().Operations(kadm.OpDescribe))
	d := s.eu.Declared()
	d.SASL.Username, d.SASL.Password = agentUser, agentPassword
	s.agent.mustPut("/v1/clusters/europe", d)
	allowApplications(t, s.na)
	createTopicOn(t, s.na, "LH.ORDERS", 1, nil)
	producerOf(t, s.na).Produce(t, "LH.ORDERS", 1, 10)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 10)

	var st *agentapi.ACLSync
	kafkatest.Eventually(t, 30*time.Second, "the mirror's status says which ACLs europe refused", func() (bool, string) {
		st = s.agent.status("na-to-eu").ACLs
		return st != nil && slices.ContainsFunc(st.Errors, func(e agentapi.ACLError) bool {
			return e.ACL == consumerRead && strings.Contains(e.Error, "CLUSTER_AUTHORIZATION_FAILED")
		}), fmt.Sprintf("%+v", st)
	})
	if len(st.Applied) > 0 || !slices.Contains(st.Held, producerWrite) {
		t.Fatalf("with no ACL made on europe: applied %v, held %v; want none applied and %v held", st.Applied, st.Held, producerWrite)
	}
	producerOf(t, s.na).Produce(t, "LH.ORDERS", 1, 5)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 15)
	t.Logf("reported: %s", st.Errors[0].Error)
}
