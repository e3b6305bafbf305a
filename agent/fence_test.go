package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// The agent's own user on north-america in these tests: allowed everything
// by ACLs, as README advises, but not a super user, so that DENY ACLs apply
// to it too.
const (
	agentUser     = "kfo-agent"
	agentPassword = "kfo-agent-secret-pw"
)

// newNonSuperAgentSetup is a secure failoverSetup whose agent connects to
// north-america as agentUser.
func newNonSuperAgentSetup(t *testing.T, kind string) *failoverSetup {
	t.Helper()
	s := newFailoverSetupWith(t, setupOptions{kind: kind, fencing: agentapi.FencingACL, secure: true, tasksMax: 1,
		naUsers: map[string]string{agentUser: agentPassword}})
	acls := kadm.NewACLs().Allow("User:" + agentUser).AllowHosts().ResourcePatternType(kadm.ACLPatternLiteral).
		Topics("*").Groups("*").TransactionalIDs("*").Clusters().Operations(kadm.OpAll)
	mustCreateACLs(t, s.na, acls)
	d := s.na.Declared()
	d.SASL.Username, d.SASL.Password = agentUser, agentPassword
	s.agent.mustPut("/v1/clusters/north-america", d)
	return s
}

func mustCreateACLs(t *testing.T, c kafkatest.Kafka, acls *kadm.ACLBuilder) {
	t.Helper()
	res, err := kadm.NewClient(clientOf(t, c)).CreateACLs(context.Background(), acls)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("create ACL %s on %s %s: %v", r.Principal, r.Type, r.Name, r.Err)
		}
	}
}

// denyACLs answers every DENY ACL on c as "principal operation resource-name".
func denyACLs(t *testing.T, c kafkatest.Kafka) []string {
	t.Helper()
	res, err := kadm.NewClient(clientOf(t, c)).DescribeACLs(context.Background(),
		kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Deny().DenyHosts().Operations(kadm.OpAny))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		for _, d := range r.Described {
			out = append(out, fmt.Sprintf("%s %s %s", d.Principal, d.Operation, d.Name))
		}
	}
	slices.Sort(out)
	return out
}

func TestPlannedFailoverAndFailbackWithANonSuperAgentUserLoseNothingOnApacheKafka(t *testing.T) {
	plannedFailoverAndFailbackWithANonSuperAgentUser(t, kafkatest.Apache)
}

func TestPlannedFailoverAndFailbackWithANonSuperAgentUserLoseNothingOnDevClusters(t *testing.T) {
	plannedFailoverAndFailbackWithANonSuperAgentUser(t, kafkatest.Dev)
}

// plannedFailoverAndFailbackWithANonSuperAgentUser: the fence stops the
// application's producer but not the agent, whose user is no super user:
// after the flip the reverse mirror writes into the old active cluster, and
// the failback drains and lifts the fence.
func plannedFailoverAndFailbackWithANonSuperAgentUser(t *testing.T, kind string) {
	s := newNonSuperAgentSetup(t, kind)
	// The mirror back, frozen while north-america is active.
	s.agent.mustPut("/v1/mirrors/eu-to-na", agentapi.Mirror{Source: "europe", Target: "north-america",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s", TasksMax: 1})
	s.agent.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america",
		Mirrors: []string{"na-to-eu", "eu-to-na"}, Fencing: agentapi.FencingACL, DrainTimeout: "10s"})
	createTopicOn(t, s.na, "LH.ORDERS", 1, nil)
	prod := kafkatest.NewProducer(t, s.na.Bootstrap(), s.app()...)
	prod.Produce(t, "LH.ORDERS", 1, 100)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 100)
	appAll := agentapi.ACL{ResourceType: "TOPIC", PatternType: "PREFIXED", ResourceName: "LH.", Principal: "User:" + appUser, Host: "*", Operation: "ALL", Permission: "ALLOW"}
	kafkatest.Eventually(t, 30*time.Second, "the mirror holds the application's ACL for the flip", func() (bool, string) {
		st := s.agent.status("na-to-eu").ACLs
		return st != nil && slices.Contains(st.Held, appAll), fmt.Sprintf("%+v", st)
	})

	fenced := s.plannedFailoverWhileProducing(t, prod, "LH.ORDERS", 1, 5, "go", func() {})
	if !strings.Contains(fenced.Error(), "TOPIC_AUTHORIZATION_FAILED") {
		t.Fatalf("the fence stopped the application's producer with %v, want TOPIC_AUTHORIZATION_FAILED", fenced)
	}
	// The fence denies the principals that may write there, not the agent.
	if got, want := denyACLs(t, s.na), []string{"User:" + appUser + " WRITE LH.ORDERS"}; !slices.Equal(got, want) {
		t.Fatalf("DENY ACLs on north-america after the failover: %q, want %q", got, want)
	}
	naBefore := partitionCounts(t, s.na, "LH.ORDERS")[0]

	// The mirror back writes into the fenced north-america.
	producerOf(t, s.eu).Produce(t, "LH.ORDERS", 1, 50)
	kafkatest.Eventually(t, 30*time.Second, "eu-to-na copies europe's new records", func() (bool, string) {
		n := partitionCounts(t, s.na, "LH.ORDERS")
		return n[0] == naBefore+50, fmt.Sprintf("%d of %d on north-america; %+v", n[0], naBefore+50, s.agent.status("eu-to-na"))
	})

	code, res, e := s.failover(t, agentapi.FailoverRequest{To: "north-america", Mode: agentapi.ModePlanned, RequestID: "back"})
	if code != 200 {
		t.Fatalf("planned failback: HTTP %d %+v", code, e.Error)
	}
	if res.Report == nil || res.Report.RecordsLost != 0 || res.Epoch != 2 {
		t.Fatalf("planned failback: %+v epoch %d, want 0 lost and epoch 2", res.Report, res.Epoch)
	}
	// The failover applied the application's ACLs on europe (sync_acls),
	// so the failback fenced the application's principal there by name.
	if got, want := denyACLs(t, s.eu), []string{"User:" + appUser + " WRITE LH.ORDERS"}; !slices.Equal(got, want) {
		t.Fatalf("DENY ACLs on europe after the failback: %q, want %q", got, want)
	}
	// The failback lifted north-america's fence: the application writes there again.
	if got := denyACLs(t, s.na); len(got) != 0 {
		t.Fatalf("DENY ACLs left on north-america after the failback: %q", got)
	}
	if err := prod.TryProduce(context.Background(), "LH.ORDERS", 1, 1); err != nil {
		t.Fatalf("the application cannot write to north-america after the failback: %v", err)
	}
	t.Logf("planned failover and failback with a non-super agent user: 0 lost both ways, the producer was fenced (%v)", fenced)
}

func TestAPlannedFailoverIsRefusedWhenAnyoneMayWriteAndTheAgentIsNoSuperUserOnApacheKafka(t *testing.T) {
	aPlannedFailoverIsRefusedWhenAnyoneMayWriteAndTheAgentIsNoSuperUser(t, kafkatest.Apache)
}

func TestAPlannedFailoverIsRefusedWhenAnyoneMayWriteAndTheAgentIsNoSuperUserOnDevClusters(t *testing.T) {
	aPlannedFailoverIsRefusedWhenAnyoneMayWriteAndTheAgentIsNoSuperUser(t, kafkatest.Dev)
}

// aPlannedFailoverIsRefusedWhenAnyoneMayWriteAndTheAgentIsNoSuperUser: an
// ALLOW for User:* can only be fenced by a DENY for User:*, which would
// stop the agent's own user too: the failover is refused before anything
// is fenced, and the check leaves no ACL behind.
func aPlannedFailoverIsRefusedWhenAnyoneMayWriteAndTheAgentIsNoSuperUser(t *testing.T, kind string) {
	s := newNonSuperAgentSetup(t, kind)
	mustCreateACLs(t, s.na, kadm.NewACLs().Allow("User:*").AllowHosts().ResourcePatternType(kadm.ACLPatternPrefixed).
		Topics("LH.").Operations(kadm.OpWrite))
	createTopicOn(t, s.na, "LH.ORDERS", 1, nil)
	prod := kafkatest.NewProducer(t, s.na.Bootstrap(), s.app()...)
	prod.Produce(t, "LH.ORDERS", 1, 10)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 10)

	var e agentapi.Error
	code := s.agent.call("POST", "/v1/policies/loosehanger/failover", agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: "anyone"}, &e)
	for _, says := range []string{"User:" + agentUser, "not a super user", "User:*", `fencing to "none"`} {
		if code != 409 || !strings.Contains(e.Error.Message, says) {
			t.Fatalf("planned failover while anyone may write: HTTP %d %+v; want 409 saying %q", code, e.Error, says)
		}
	}
	var p agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
	if p.Active != "north-america" || p.Epoch != 0 || p.InProgress != nil || p.LastFailover != nil {
		t.Fatalf("a refused failover changed the policy: %+v", p)
	}
	if got := denyACLs(t, s.na); len(got) != 0 {
		t.Fatalf("DENY ACLs left on north-america by a refused failover: %q", got)
	}
	if err := prod.TryProduce(context.Background(), "LH.ORDERS", 1, 1); err != nil {
		t.Fatalf("the application cannot write after a refused failover: %v", err)
	}
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 11)
	t.Logf("refused: %s", e.Error.Message)
}

// An agent of an earlier version began a planned failover, recorded its
// fence in the single-principal shape, made it and stopped: recovery lifts
// exactly that fence, and leaves another DENY on the same topic alone.
func TestRecoveryLiftsAFenceRecordedInTheEarlierSinglePrincipalShape(t *testing.T) {
	s := newFailoverSetupWith(t, setupOptions{fencing: agentapi.FencingACL, secure: true, tasksMax: 1})
	createTopicOn(t, s.na, "LH.ORDERS", 1, nil)
	prod := kafkatest.NewProducer(t, s.na.Bootstrap(), s.app()...)
	prod.Produce(t, "LH.ORDERS", 1, 10)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 10)
	var p agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)

	s.agent.stop()
	deny := kadm.NewACLs().Topics("LH.ORDERS").ResourcePatternType(kadm.ACLPatternLiteral).DenyHosts().Operations(kadm.OpWrite)
	mustCreateACLs(t, s.na, deny.Deny("User:*"))       // the earlier agent's fence
	mustCreateACLs(t, s.na, deny.Deny("User:mallory")) // someone else's
	begin, err := json.Marshal(map[string]any{
		"kind": "begin", "policy": "loosehanger", "generation": p.CreatedAt, "nonce": "legacy-nonce", "request_id": "legacy",
		"run": map[string]any{
			"request_id": "legacy", "from": "north-america", "to": "europe", "mode": agentapi.ModePlanned, "from_epoch": 0,
			"agent": "an-earlier-agent", "started_at": time.Now().Add(-time.Hour), // long silent: stale
			"fence": map[string]any{"cluster": "north-america", "principal": "User:*", "host": "*", "topics": []string{"LH.ORDERS"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &kgo.Record{Topic: "__kfo_state", Key: []byte("failover/loosehanger/legacy/begin/legacy-nonce"), Value: begin}
	if err := clientOf(t, s.eu).ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	s.agent.start()

	kafkatest.Eventually(t, 45*time.Second, "recovery aborts the earlier agent's failover", func() (bool, string) {
		p = agentapi.Policy{}
		s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
		return p.InProgress == nil && p.LastFailover != nil, fmt.Sprintf("in progress %+v, last %+v", p.InProgress, p.LastFailover)
	})
	if p.LastFailover.RequestID != "legacy" || p.LastFailover.Outcome != agentapi.OutcomeAborted || p.Active != "north-america" {
		t.Fatalf("after recovery: active %s, last %+v; want north-america and legacy aborted", p.Active, p.LastFailover)
	}
	s.agent.waitLogged(t, 10*time.Second, `"msg":"fence lifted"`, `"principal":"User:*"`, `"topics":["LH.ORDERS"]`, `"acls_removed":1`)
	if got, want := denyACLs(t, s.na), []string{"User:mallory WRITE LH.ORDERS"}; !slices.Equal(got, want) {
		t.Fatalf("DENY ACLs on north-america after recovery: %q, want %q", got, want)
	}
	if err := prod.TryProduce(context.Background(), "LH.ORDERS", 1, 1); err != nil {
		t.Fatalf("the application cannot write after recovery lifted the fence: %v", err)
	}
}
