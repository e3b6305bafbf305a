package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/failover"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// postFailover sends a failover request without failing the test on a
// connection error: the agent may be killed while it answers.
func postFailover(url string, req agentapi.FailoverRequest) (int, string) {
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest("POST", url+"/v1/policies/loosehanger/failover", bytes.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String()
}

// unmirrorableRecordAfter writes n records to LH.ORDERS on north-america,
// waits until they are mirrored, then writes one that europe refuses: a
// planned failover's drain can never end.
func (s *failoverSetup) unmirrorableRecordAfter(t *testing.T, n int) {
	t.Helper()
	limit := "200000"
	kafkatest.CreateTopic(t, s.eu.Bootstrap(), "LH.ORDERS", 1, map[string]*string{"max.message.bytes": &limit}) // before the mirror creates it
	kafkatest.CreateTopic(t, s.na.Bootstrap(), "LH.ORDERS", 1, nil)
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 1, n)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, int64(n))
	big := kafkatest.GenRecord("LH.ORDERS", 0, n)
	big.Value = make([]byte, 300_000)
	_, _ = crand.Read(big.Value) // so that it does not compress below the limit
	if err := kafkatest.Client(t, s.na.Bootstrap(), kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(context.Background(), big).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// failoverUnderWay sends a failover of loosehanger and answers its HTTP
// status on the channel; it returns once the failover is under way.
func (s *failoverSetup) failoverUnderWay(t *testing.T, req agentapi.FailoverRequest) <-chan int {
	t.Helper()
	answered := make(chan int, 1)
	go func() {
		code, _ := postFailover(s.agent.url, req)
		answered <- code
	}()
	kafkatest.Eventually(t, 30*time.Second, "the failover is under way", func() (bool, string) {
		var p agentapi.Policy
		s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
		return p.InProgress != nil, fmt.Sprintf("%+v", p.InProgress)
	})
	return answered
}

func TestTwoConcurrentFailoverRequestsOnTwoAgentsFlipOnce(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 2)
	second := startAgent(t, strings.Join(s.eu.Bootstrap(), ","))
	kafkatest.CreateTopic(t, s.na.Bootstrap(), "LH.ORDERS", 2, nil)
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 2, 100)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 2, 100)

	var wg sync.WaitGroup
	codes := make([]int, 2)
	bodies := make([]string, 2)
	for i, a := range []*agentProc{s.agent, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], bodies[i] = postFailover(a.url, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: fmt.Sprintf("racer-%d", i)})
		}()
	}
	wg.Wait()
	ok := 0
	for i, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
		default:
			t.Fatalf("request %d: HTTP %d %s", i, c, bodies[i])
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 2 concurrent failovers succeeded, want exactly 1: %v %v", ok, codes, bodies)
	}
	// The second replica answers from its own tail, which may not have
	// read the winner's flip yet.
	var p agentapi.Policy
	kafkatest.Eventually(t, 10*time.Second, "the second agent reads the flip", func() (bool, string) {
		second.call("GET", "/v1/policies/loosehanger", nil, &p)
		return p.Epoch > 0, fmt.Sprintf("epoch %d active %s", p.Epoch, p.Active)
	})
	if p.Epoch != 1 || p.Active != "europe" {
		t.Fatalf("after two concurrent requests: epoch %d active %s, want 1 europe", p.Epoch, p.Active)
	}
	t.Logf("two concurrent requests: HTTP %v, one flip to epoch %d", codes, p.Epoch)
}

func TestAnAgentKilledDuringAFailoverLeavesItCleanlyNotDone(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 1)
	s.unmirrorableRecordAfter(t, 100)
	answered := s.failoverUnderWay(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: "interrupted"})
	s.agent.kill9()
	if code := <-answered; code == http.StatusOK {
		t.Fatal("the interrupted failover answered 200")
	}
	s.agent.start()
	var p agentapi.Policy
	kafkatest.Eventually(t, 30*time.Second, "the interrupted failover is aborted", func() (bool, string) {
		p = agentapi.Policy{} // decoding keeps what an answer leaves out, such as in_progress
		s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
		return p.InProgress == nil && p.LastFailover != nil, fmt.Sprintf("in progress %+v, last %+v", p.InProgress, p.LastFailover)
	})
	if p.Active != "north-america" || p.Epoch != 0 || p.LastFailover.Outcome != agentapi.OutcomeAborted || p.LastFailover.RequestID != "interrupted" {
		t.Fatalf("after the restart: active %s epoch %d last %+v; want north-america, 0, aborted", p.Active, p.Epoch, p.LastFailover)
	}
	var active agentapi.Active
	s.agent.call("GET", "/v1/policies/loosehanger/active", nil, &active)
	if active.Cluster != "north-america" || active.Epoch != 0 {
		t.Fatalf("discovery after the aborted failover: %+v", active)
	}
	t.Logf("aborted cleanly: %s", p.LastFailover.Reason)
}

func TestFailoverRequestsThatCannotBeDoneAreRefusedWithAReason(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingACL, 1)
	kafkatest.CreateTopic(t, s.na.Bootstrap(), "LH.ORDERS", 1, nil)
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 1, 10)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 10)
	epoch0 := int64(0)
	for _, c := range []struct {
		name  string
		req   agentapi.FailoverRequest
		code  int
		field string
		says  string
	}{
		{"not in the policy", agentapi.FailoverRequest{To: "asia", Mode: "forced", RequestID: "r1"}, 400, "to", "not in policy"},
		{"bad mode", agentapi.FailoverRequest{To: "europe", Mode: "soon", RequestID: "r2"}, 400, "mode", "planned"},
		{"no request id", agentapi.FailoverRequest{To: "europe", Mode: "forced"}, 400, "request_id", "unique id"},
		{"already active", agentapi.FailoverRequest{To: "north-america", Mode: "forced", RequestID: "r3"}, 409, "to", "already the active"},
		{"no authorizer to fence with", agentapi.FailoverRequest{To: "europe", Mode: "planned", RequestID: "r4", ExpectedEpoch: &epoch0}, 409, "", "no authorizer"},
	} {
		var e agentapi.Error
		code := s.agent.call("POST", "/v1/policies/loosehanger/failover", c.req, &e)
		if code != c.code || e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.says) {
			t.Errorf("%s: HTTP %d %+v; want %d, field %q, a message saying %q", c.name, code, e.Error, c.code, c.field, c.says)
		}
	}
	// A third region whose cluster does not answer.
	s.agent.mustPut("/v1/clusters/asia", agentapi.Cluster{BootstrapServers: []string{kafkatest.FreeAddr(t)}})
	s.agent.mustPut("/v1/mirrors/na-to-asia", agentapi.Mirror{Source: "north-america", Target: "asia", Topics: agentapi.Selector{Include: []string{`LH\..*`}}})
	s.agent.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe", "asia"},
		Mirrors: []string{"na-to-eu", "na-to-asia"}, Fencing: agentapi.FencingACL, DrainTimeout: "30s"})
	var e agentapi.Error
	if code := s.agent.call("POST", "/v1/policies/loosehanger/failover", agentapi.FailoverRequest{To: "asia", Mode: "forced", RequestID: "r-asia"}, &e); code != 409 || e.Error.Field != "to" || !strings.Contains(e.Error.Message, "does not answer") {
		t.Errorf("failover to a cluster that does not answer: HTTP %d %+v, want 409 on to saying it does not answer", code, e.Error)
	}
	var p agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
	if p.Epoch != 0 || p.Active != "north-america" || p.InProgress != nil {
		t.Fatalf("refused requests changed the policy: %+v", p)
	}
	if st := s.agent.status("na-to-eu"); st.State == agentapi.MirrorStopped {
		t.Fatalf("the mirror is stopped after an aborted planned failover: %s", st.Reason)
	}
	// A flip, then a request that still expects the old epoch.
	if code, _, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: "forced", RequestID: "r5"}); code != 200 {
		t.Fatalf("forced failover: %d %+v", code, e.Error)
	}
	if code := s.agent.call("POST", "/v1/policies/loosehanger/failover", agentapi.FailoverRequest{To: "north-america", Mode: "forced", RequestID: "r6", ExpectedEpoch: &epoch0}, &e); code != 409 || e.Error.Field != "expected_epoch" {
		t.Fatalf("a stale expected_epoch: HTTP %d %+v, want 409 on expected_epoch", code, e.Error)
	}
}

func TestAPlannedFailoverThatCannotDrainIsUndoneAndItsFenceLifted(t *testing.T) {
	s := newFailoverSetupWith(t, setupOptions{fencing: agentapi.FencingACL, tasksMax: 1, secure: true})
	a := s.agent
	limit := "200000"
	createTopicOn(t, s.eu, "LH.ORDERS", 1, map[string]*string{"max.message.bytes": &limit}) // before the mirror creates it
	createTopicOn(t, s.na, "LH.ORDERS", 1, nil)
	a.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america",
		Mirrors: []string{"na-to-eu"}, Fencing: agentapi.FencingACL, DrainTimeout: "3s", MaxLagRecords: 5})
	prod := kafkatest.NewProducer(t, s.na.Bootstrap(), s.app()...)
	prod.Produce(t, "LH.ORDERS", 1, 3)
	waitMirroredTopic(t, a, "LH.ORDERS", 1, 3)

	// A record europe refuses: the mirror can never drain.
	big := kafkatest.GenRecord("LH.ORDERS", 0, 3)
	big.Value = make([]byte, 300_000)
	_, _ = crand.Read(big.Value)
	if err := kafkatest.Client(t, s.na.Bootstrap(), append(s.app(), kgo.RecordPartitioner(kgo.ManualPartitioner()))...).ProduceSync(context.Background(), big).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var e agentapi.Error
	code := a.call("POST", "/v1/policies/loosehanger/failover", agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: "cannot-drain"}, &e)
	if code != 409 || !strings.Contains(e.Error.Message, "drain_timeout") {
		t.Fatalf("planned failover that cannot drain: HTTP %d %+v, want 409 naming drain_timeout", code, e.Error)
	}
	var p agentapi.Policy
	a.call("GET", "/v1/policies/loosehanger", nil, &p)
	if p.Active != "north-america" || p.Epoch != 0 || p.LastFailover == nil || p.LastFailover.Outcome != agentapi.OutcomeAborted {
		t.Fatalf("after the failed drain: %+v", p)
	}
	// The fence is lifted: the application writes to north-america again.
	if err := prod.TryProduce(context.Background(), "LH.ORDERS", 1, 1); err != nil {
		t.Fatalf("the application still cannot write after the failover was undone: %v", err)
	}

	// Too far behind: a planned failover is refused before it starts.
	prod.Produce(t, "LH.ORDERS", 1, 20)
	kafkatest.Eventually(t, 30*time.Second, "the agent sees the lag", func() (bool, string) {
		st := a.status("na-to-eu")
		return st.LagRecords > 5, fmt.Sprint(st.LagRecords)
	})
	code = a.call("POST", "/v1/policies/loosehanger/failover", agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: "too-far"}, &e)
	if code != 409 || e.Error.Field != "mode" || !strings.Contains(e.Error.Message, "over the policy's limits") {
		t.Fatalf("planned failover over the lag limit: HTTP %d %+v", code, e.Error)
	}
}

// haltedFailover asks agent a, started with KFO_TEST_HALT_FAILOVER_AFTER=step,
// for a planned failover of loosehanger to europe and returns once the agent
// halted after step. restart kills the agent with SIGKILL, checks that the
// request got no 200, and starts the agent again without the halt.
func haltedFailover(t *testing.T, a *agentProc, requestID, step string) (restart func()) {
	t.Helper()
	answered := make(chan int, 1)
	go func() {
		code, _ := postFailover(a.url, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: requestID})
		answered <- code
	}()
	a.waitLogged(t, time.Minute, haltedMarker("loosehanger", step))
	return func() {
		t.Helper()
		a.kill9()
		if code := <-answered; code == http.StatusOK {
			t.Fatal("the interrupted failover answered 200")
		}
		a.env = nil
		a.start()
	}
}

func TestAnAgentKilledInAPlannedFailoverLeavesTheActiveClusterWritable(t *testing.T) {
	for _, step := range []string{failover.StepBegun, failover.StepFenced, failover.StepFrozen} {
		t.Run("after "+step, func(t *testing.T) {
			s := newFailoverSetupWith(t, setupOptions{fencing: agentapi.FencingACL, tasksMax: 1, secure: true,
				agentEnv: []string{"KFO_TEST_HALT_FAILOVER_AFTER=" + step}})
			a := s.agent
			createTopicOn(t, s.na, "LH.ORDERS", 1, nil)
			prod := kafkatest.NewProducer(t, s.na.Bootstrap(), s.app()...)
			prod.Produce(t, "LH.ORDERS", 1, 10)
			waitMirroredTopic(t, a, "LH.ORDERS", 1, 10)

			restart := haltedFailover(t, a, "interrupted", step)
			if step != failover.StepBegun {
				if err := prod.TryProduce(context.Background(), "LH.ORDERS", 1, 1); err == nil || !strings.Contains(err.Error(), "AUTHORIZATION") {
					t.Fatalf("after step %s the application still writes to north-america (%v): the test stopped the agent before the fence", step, err)
				}
			}
			restart()

			var p agentapi.Policy
			kafkatest.Eventually(t, 30*time.Second, "the interrupted failover is aborted", func() (bool, string) {
				p = agentapi.Policy{} // decoding keeps what an answer leaves out, such as in_progress
				a.call("GET", "/v1/policies/loosehanger", nil, &p)
				return p.InProgress == nil && p.LastFailover != nil, fmt.Sprintf("in progress %+v, last %+v", p.InProgress, p.LastFailover)
			})
			if p.Active != "north-america" || p.Epoch != 0 || p.LastFailover.Outcome != agentapi.OutcomeAborted || p.LastFailover.RequestID != "interrupted" {
				t.Fatalf("after the restart: active %s epoch %d last %+v; want north-america, 0, aborted", p.Active, p.Epoch, p.LastFailover)
			}
			var active agentapi.Active
			a.call("GET", "/v1/policies/loosehanger/active", nil, &active)
			if active.Cluster != "north-america" || active.Epoch != 0 {
				t.Fatalf("discovery after the aborted failover: %+v", active)
			}
			// The principal the fence denied writes to the still-active cluster again.
			if err := prod.TryProduce(context.Background(), "LH.ORDERS", 1, 5); err != nil {
				t.Fatalf("the application cannot write to the active cluster after the interrupted failover was aborted: %v", err)
			}
			if denied := denyACLs(t, s.na); len(denied) > 0 {
				t.Fatalf("DENY ACLs left on north-america: %q", denied)
			}
			// Recovery removes what the failover recorded, the DENY of the
			// principal the ACLs let write, and says so; a fence recorded
			// but not made yet is no error.
			removed := `"acls_removed":1`
			if step == failover.StepBegun {
				removed = `"acls_removed":0`
			}
			a.waitLogged(t, 10*time.Second, `"msg":"fence lifted"`, `"cluster":"north-america"`, `"principal":"User:`+appUser+`"`, `"topics":["LH.ORDERS"]`, removed)
			t.Logf("killed after %s, restarted: %s; north-america takes writes", step, p.LastFailover.Reason)
		})
	}
}
