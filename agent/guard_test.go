package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// The tests in this file show that no request can break exactly-once or
// bypass a divergence: no failover stays under way because its outcome
// could not be written, no request id answers another request's result,
// and no object is created twice.

// refuseStateWrites makes the state cluster refuse every write to the state
// topic whose records hold one of the fragments, e.g. "/complete/" (the kind
// in a failover op's key), until the fault is removed.
func refuseStateWrites(c *kfake.Cluster, fragments ...string) *kfake.FaultHandle {
	dec := kgo.DefaultDecompressor()
	return c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: store.StateTopic, Err: kerr.InvalidRecord, Count: -1,
		When: func(req kmsg.Request) bool {
			for _, t := range req.(*kmsg.ProduceRequest).Topics {
				for _, p := range t.Partitions {
					var b kmsg.RecordBatch
					if b.ReadFrom(p.Records) != nil {
						continue
					}
					raw, err := dec.Decompress(b.Records, kgo.CompressionCodecType(b.Attributes&0x07))
					if err != nil {
						continue
					}
					for _, f := range fragments {
						if bytes.Contains(raw, []byte(f)) {
							return true
						}
					}
				}
			}
			return false
		}})
}

// fencedSetup is north-america with an authorizer, fenced by ACLs in a
// planned failover, mirrored into europe, which is also the state cluster.
type fencedSetup struct {
	naAddrs     []string
	admin       []kgo.Opt
	agent       *agentProc
	application *kafkatest.Producer
}

func newFencedSetup(t *testing.T, env ...string) (*fencedSetup, *kfake.Cluster) {
	t.Helper()
	naAddrs, admin, app := kafkatest.ACLCluster(t, "north-america")
	eu := kafkatest.Cluster(t, "europe")
	a := startAgentWith(t, eu.BootstrapString(), env)
	a.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: naAddrs,
		SASL: &agentapi.SASL{Mechanism: "SCRAM-SHA-512", Username: "admin", Password: "admin-secret-pw"}})
	a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: eu.Bootstrap()})
	kafkatest.CreateTopic(t, naAddrs, "LH.ORDERS", 1, nil, admin...)
	a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s", TasksMax: 1})
	a.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america",
		Mirrors: []string{"na-to-eu"}, Fencing: agentapi.FencingACL, DrainTimeout: "30s"})
	prod := kafkatest.NewProducer(t, naAddrs, app...)
	prod.Produce(t, "LH.ORDERS", 1, 10)
	waitMirroredTopic(t, a, "LH.ORDERS", 1, 10)
	return &fencedSetup{naAddrs: naAddrs, admin: admin, agent: a, application: prod}, eu.Cluster
}

// assertNotFenced checks that the application writes to north-america and
// that no DENY ACL is left there.
func (s *fencedSetup) assertNotFenced(t *testing.T) {
	t.Helper()
	if err := s.application.TryProduce(context.Background(), "LH.ORDERS", 1, 1); err != nil {
		t.Fatalf("the application cannot write to the active cluster after the failover was aborted: %v", err)
	}
	denied, err := kadm.NewClient(kafkatest.Client(t, s.naAddrs, s.admin...)).DescribeACLs(context.Background(),
		kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Deny().DenyHosts().Operations(kadm.OpAny))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range denied {
		if len(d.Described) > 0 {
			t.Fatalf("DENY ACLs left on north-america: %+v", d.Described)
		}
	}
}

// assertAborted waits until the policy has no failover under way and checks
// that requestID ended aborted with nothing flipped and the mirror running.
func assertAborted(t *testing.T, a *agentProc, requestID string, timeout time.Duration) agentapi.Policy {
	t.Helper()
	var p agentapi.Policy
	kafkatest.Eventually(t, timeout, "the failover is no longer under way", func() (bool, string) {
		a.call("GET", "/v1/policies/loosehanger", nil, &p)
		return p.InProgress == nil && p.LastFailover != nil, fmt.Sprintf("in progress %+v, last %+v", p.InProgress, p.LastFailover)
	})
	if p.Active != "north-america" || p.Epoch != 0 || p.LastFailover.Outcome != agentapi.OutcomeAborted || p.LastFailover.RequestID != requestID {
		t.Fatalf("after the failover: active %s epoch %d last %+v; want north-america, 0, %s aborted", p.Active, p.Epoch, p.LastFailover, requestID)
	}
	kafkatest.Eventually(t, 30*time.Second, "na-to-eu runs again", func() (bool, string) {
		st := a.status("na-to-eu")
		return st.State == agentapi.MirrorRunning, st.State + " " + st.Reason
	})
	return p
}

func TestAFailoverWhoseFlipCannotBeRecordedIsAbortedItsFenceLiftedAndItsMirrorsRunAgain(t *testing.T) {
	s, eu := newFencedSetup(t)
	refused := refuseStateWrites(eu, "/complete/")
	defer refused.Remove()
	code, body := postFailover(s.agent.url, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: "unrecordable"})
	if code == http.StatusOK {
		t.Fatalf("a failover whose flip could not be recorded answered 200: %s", body)
	}
	if refused.Hits() == 0 {
		t.Fatalf("the state cluster refused no write: the test did not reach the flip (HTTP %d %s)", code, body)
	}
	p := assertAborted(t, s.agent, "unrecordable", 10*time.Second)
	if !strings.Contains(p.LastFailover.Reason, "INVALID_RECORD") {
		t.Errorf("the aborted failover's reason %q does not say why the flip was not recorded", p.LastFailover.Reason)
	}
	s.assertNotFenced(t)
	t.Logf("HTTP %d; aborted: %s", code, p.LastFailover.Reason)
}

func TestAFailoverWhoseFlipAndAbortCannotBeRecordedEndsWhenItsAgentRestarts(t *testing.T) {
	s, eu := newFencedSetup(t)
	refused := refuseStateWrites(eu, "/complete/", "/abort/")
	code, body := postFailover(s.agent.url, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: "unrecordable"})
	if code == http.StatusOK {
		t.Fatalf("a failover whose flip could not be recorded answered 200: %s", body)
	}
	var p agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
	if p.InProgress == nil || p.InProgress.RequestID != "unrecordable" {
		t.Fatalf("with neither its flip nor its abort recorded, the failover should still be under way in the state topic: %+v", p.InProgress)
	}
	s.agent.kill9()
	refused.Remove()
	s.agent.start()
	p = assertAborted(t, s.agent, "unrecordable", 30*time.Second)
	s.assertNotFenced(t)
	t.Logf("HTTP %d %s; after the restart: %s", code, strings.Join(strings.Fields(body), " "), p.LastFailover.Reason)
}

func TestAFailoverRequestIDTooLongToRecordIsRefusedAndLeavesNothingUnderWay(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 1)
	kafkatest.CreateTopic(t, s.na.Bootstrap(), "LH.ORDERS", 1, nil)
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 1, 10)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 10)
	long := strings.Repeat("r", 333250)
	code, _, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: long})
	if code != http.StatusBadRequest || e.Error.Field != "request_id" || !strings.Contains(e.Error.Message, "256") {
		t.Errorf("a 333 kB request_id: HTTP %d %+v; want 400 on request_id naming the limit", code, e.Error)
	}
	for restart := range 2 {
		var p agentapi.Policy
		s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
		if p.InProgress != nil || p.Active != "north-america" {
			t.Fatalf("after the request (restarts: %d): in progress %v, active %s; want nothing under way on north-america", restart, p.InProgress != nil, p.Active)
		}
		s.agent.stop()
		s.agent.start()
	}
}

func TestEveryFieldThatReachesTheStateTopicIsBounded(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 1)
	long := func(n int) string { return strings.Repeat("a", n) }
	list := func(n int, item string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = item
		}
		return out
	}
	mirror := func(change func(*agentapi.Mirror)) agentapi.Mirror {
		m := agentapi.Mirror{Source: "north-america", Target: "europe", Topics: agentapi.Selector{Include: []string{"orders"}}}
		change(&m)
		return m
	}
	pem := "-----BEGIN CERTIFICATE-----\n" + long(70<<10) + "\n-----END CERTIFICATE-----\n"
	for _, c := range []struct {
		name, method, path string
		body               any
		field, limit       string
	}{
		{"request_id", "POST", "/v1/policies/loosehanger/failover", agentapi.FailoverRequest{To: "europe", Mode: "forced", RequestID: long(257)}, "request_id", "256"},
		{"requested_by", "POST", "/v1/policies/loosehanger/failover", agentapi.FailoverRequest{To: "europe", Mode: "forced", RequestID: "r", RequestedBy: long(257)}, "requested_by", "256"},
		{"failover to", "POST", "/v1/policies/loosehanger/failover", agentapi.FailoverRequest{To: long(300), Mode: "forced", RequestID: "r"}, "to", "100"},
		{"reverse request_id", "POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{RequestID: long(257)}, "request_id", "256"},
		{"reverse cluster", "POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{RequestID: "r", Cluster: long(300)}, "cluster", "100"},
		{"bootstrap servers", "PUT", "/v1/clusters/many", agentapi.Cluster{BootstrapServers: list(101, "kafka:9092")}, "bootstrap_servers", "100"},
		{"a bootstrap server", "PUT", "/v1/clusters/long", agentapi.Cluster{BootstrapServers: []string{long(300) + ":9092"}}, "bootstrap_servers[0]", "261"},
		{"sasl username", "PUT", "/v1/clusters/user", agentapi.Cluster{BootstrapServers: []string{"kafka:9092"}, SASL: &agentapi.SASL{Mechanism: "PLAIN", Username: long(257), Password: "p"}}, "sasl.username", "256"},
		{"sasl password", "PUT", "/v1/clusters/pass", agentapi.Cluster{BootstrapServers: []string{"kafka:9092"}, SASL: &agentapi.SASL{Mechanism: "PLAIN", Username: "u", Password: long(5000)}}, "sasl.password", "4096"},
		{"tls ca_pem", "PUT", "/v1/clusters/ca", agentapi.Cluster{BootstrapServers: []string{"kafka:9092"}, TLS: &agentapi.TLS{CAPEM: pem}}, "tls.ca_pem", "65536"},
		{"tls cert_pem", "PUT", "/v1/clusters/cert", agentapi.Cluster{BootstrapServers: []string{"kafka:9092"}, TLS: &agentapi.TLS{CertPEM: pem}}, "tls.cert_pem", "65536"},
		{"tls key_pem", "PUT", "/v1/clusters/key", agentapi.Cluster{BootstrapServers: []string{"kafka:9092"}, TLS: &agentapi.TLS{CertPEM: "x", KeyPEM: pem}}, "tls.key_pem", "65536"},
		{"a topic regex", "PUT", "/v1/mirrors/regex", mirror(func(m *agentapi.Mirror) { m.Topics.Include = []string{"a", long(1025)} }), "topics.include[1]", "1024"},
		{"topic regexes", "PUT", "/v1/mirrors/regexes", mirror(func(m *agentapi.Mirror) { m.Topics.Exclude = list(101, "x") }), "topics.exclude", "100"},
		{"a group regex", "PUT", "/v1/mirrors/group", mirror(func(m *agentapi.Mirror) { m.Groups.Include = []string{long(1025)} }), "groups.include[0]", "1024"},
		{"mirror source", "PUT", "/v1/mirrors/source", mirror(func(m *agentapi.Mirror) { m.Source = long(300) }), "source", "100"},
		{"refresh_interval", "PUT", "/v1/mirrors/refresh", mirror(func(m *agentapi.Mirror) { m.RefreshInterval = strings.Repeat("0", 100) + "1s" }), "refresh_interval", "64"},
		{"policy mirrors", "PUT", "/v1/policies/many", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america", Mirrors: list(101, "na-to-eu")}, "mirrors", "100"},
		{"policy drain_timeout", "PUT", "/v1/policies/drain", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america", Mirrors: []string{"na-to-eu"}, DrainTimeout: strings.Repeat("0", 100) + "1s"}, "drain_timeout", "64"},
	} {
		var e agentapi.Error
		code := s.agent.call(c.method, c.path, c.body, &e)
		if code != http.StatusBadRequest || e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.limit) {
			t.Errorf("%s over its limit: HTTP %d %+v; want 400 on %s naming the limit %s", c.name, code, e.Error, c.field, c.limit)
		}
	}
	var p agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
	if p.InProgress != nil || p.Epoch != 0 {
		t.Fatalf("refused requests changed the policy: %+v", p)
	}
}

func TestARepeatedFailoverRequestIDWithAnotherBodyIsRefused(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 1)
	kafkatest.CreateTopic(t, s.na.Bootstrap(), "LH.ORDERS", 1, nil)
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 1, 10)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 10)
	zero, one := int64(0), int64(1)
	first := agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "flip-1"}
	code, done, e := s.failover(t, first)
	if code != 200 || done.Epoch != 1 {
		t.Fatalf("forced failover: HTTP %d %+v %+v", code, e.Error, done)
	}
	// The same failover, asked again: the first answer.
	for _, again := range []agentapi.FailoverRequest{first, {To: "europe", Mode: agentapi.ModeForced, RequestID: "flip-1", ExpectedEpoch: &zero, RequestedBy: "someone else"}} {
		if code, res, e := s.failover(t, again); code != 200 || !res.CompletedAt.Equal(done.CompletedAt) || res.Epoch != 1 {
			t.Errorf("repeating %+v: HTTP %d %+v %+v; want the first answer", again, code, e.Error, res)
		}
	}
	// Another failover under the same id: refused, not answered as done.
	for _, other := range []agentapi.FailoverRequest{
		{To: "north-america", Mode: agentapi.ModeForced, RequestID: "flip-1"},
		{To: "europe", Mode: agentapi.ModePlanned, RequestID: "flip-1"},
		{To: "europe", Mode: agentapi.ModeForced, RequestID: "flip-1", ExpectedEpoch: &one},
	} {
		code, res, e := s.failover(t, other)
		if code != http.StatusConflict || e.Error.Field != "request_id" || !strings.Contains(e.Error.Message, "forced failover to europe from epoch 0") {
			t.Errorf("request flip-1 again as %s to %s expecting epoch %v: HTTP %d %+v %+v; want 409 on request_id saying what flip-1 did",
				other.Mode, other.To, other.ExpectedEpoch, code, e.Error, res)
		}
	}
}

func TestARepeatedReverseRequestIDForAnotherClusterIsRefused(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 1)
	kafkatest.CreateTopic(t, s.na.Bootstrap(), "LH.ORDERS", 1, nil)
	s.agent.mustPut("/v1/mirrors/eu-to-na", agentapi.Mirror{Source: "europe", Target: "north-america",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s", TasksMax: 1})
	s.agent.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"},
		Mirrors: []string{"na-to-eu", "eu-to-na"}, Fencing: agentapi.FencingNone, DrainTimeout: "30s"})
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 1, 10)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 10)
	s.na.Kill()
	if code, _, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "lose-na"}); code != 200 {
		t.Fatalf("forced failover: HTTP %d %+v", code, e.Error)
	}
	s.na.Restart()
	var q agentapi.Quarantine
	if code := s.agent.call("POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{Cluster: "north-america", RequestID: "na-back"}, &q); code != 200 {
		t.Fatalf("reverse: HTTP %d", code)
	}
	var again agentapi.Quarantine
	if code := s.agent.call("POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{RequestID: "na-back"}, &again); code != 200 || !again.CompletedAt.Equal(q.CompletedAt) {
		t.Errorf("repeating the reverse request without a cluster: HTTP %d %+v; want the first answer", code, again)
	}
	var e agentapi.Error
	if code := s.agent.call("POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{Cluster: "europe", RequestID: "na-back"}, &e); code != http.StatusConflict ||
		e.Error.Field != "request_id" || !strings.Contains(e.Error.Message, "north-america") {
		t.Errorf("request na-back again for europe: HTTP %d %+v; want 409 on request_id saying it reconciled north-america", code, e.Error)
	}
}

// putRace sends two PUTs of the same new object at once and answers their
// status codes and bodies.
func putRace(t *testing.T, a *agentProc, path string, bodies [2]string) ([2]int, [2]string) {
	var codes [2]int
	var raws [2]string
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, raw, _ := apiDo(t, a, "PUT", path, "Bearer "+testToken, bodies[i])
			codes[i], raws[i] = code, string(raw)
		}()
	}
	wg.Wait()
	return codes, raws
}

func TestTwoConcurrentPutsCreatingTheSameObjectCreateItOnce(t *testing.T) {
	state := kafkatest.Cluster(t, "state")
	a := startAgent(t, state.BootstrapString())
	a.mustPut("/v1/clusters/src", agentapi.Cluster{BootstrapServers: state.Bootstrap()})
	a.mustPut("/v1/clusters/dst", agentapi.Cluster{BootstrapServers: state.Bootstrap()})
	a.mustPut("/v1/mirrors/src-to-dst", agentapi.Mirror{Source: "src", Target: "dst", Topics: agentapi.Selector{Include: []string{"none-such"}}})
	kinds := []struct {
		kind, key, field string // key prefix and a field the two bodies differ in
		bodies           [2]string
	}{
		{"mirrors", "mirror/", "tasks_max", [2]string{
			`{"source":"src","target":"dst","topics":{"include":["orders"]},"tasks_max":2}`,
			`{"source":"src","target":"dst","topics":{"include":["payments"]},"tasks_max":3}`}},
		{"policies", "policy/", "primary", [2]string{
			`{"clusters":["src","dst"],"primary":"src","mirrors":["src-to-dst"]}`,
			`{"clusters":["src","dst"],"primary":"dst","mirrors":["src-to-dst"]}`}},
		{"clusters", "cluster/", "bootstrap_servers", [2]string{
			`{"bootstrap_servers":["kafka-1:9092"]}`,
			`{"bootstrap_servers":["kafka-2:9092"]}`}},
	}
	for _, k := range kinds {
		creates, answers := map[int]int{}, map[int]int{}
		for try := range 20 {
			path := fmt.Sprintf("/v1/%s/race-%d", k.kind, try)
			codes, raws := putRace(t, a, path, k.bodies)
			created := 0
			var stored struct {
				CreatedAt time.Time `json:"created_at"`
			}
			a.call("GET", path, nil, &stored)
			for i, code := range codes {
				answers[code]++
				switch code {
				case http.StatusCreated:
					created++
				case http.StatusOK, http.StatusBadRequest, http.StatusConflict:
				default:
					t.Fatalf("PUT %s: HTTP %d %s", path, code, raws[i])
				}
				// Both answers that stored something describe one object.
				var answered struct {
					CreatedAt time.Time `json:"created_at"`
				}
				if code < 300 && (jsonUnmarshal([]byte(raws[i]), &answered) != nil || !answered.CreatedAt.Equal(stored.CreatedAt)) {
					t.Errorf("PUT %s answered HTTP %d created_at %s; the stored object was created at %s", path, code, answered.CreatedAt, stored.CreatedAt)
				}
			}
			creates[created]++
		}
		if creates[1] != 20 {
			t.Errorf("two concurrent PUTs creating each of 20 %s: answers with this many creates: %v; want exactly 1 each time", k.kind, creates)
		}
		t.Logf("%s: HTTP status -> answers: %v", k.kind, answers)
	}
	// The latest record of each key, which compaction keeps, holds the
	// object as stored, also where a create was refused.
	latest := map[string]map[string]any{}
	for _, r := range kafkatest.ReadAll(t, state.Bootstrap(), store.StateTopic)[0] {
		var v map[string]any
		if jsonUnmarshal(r.Value, &v) == nil {
			latest[string(r.Key)] = v
		}
	}
	for _, k := range kinds {
		for try := range 20 {
			var stored map[string]any
			a.call("GET", fmt.Sprintf("/v1/%s/race-%d", k.kind, try), nil, &stored)
			if last := latest[fmt.Sprintf("%srace-%d", k.key, try)]; fmt.Sprint(last[k.field]) != fmt.Sprint(stored[k.field]) {
				t.Errorf("%s race-%d: the latest record in the state topic has %s %v, the agent answers %v: a replica reading a compacted topic would disagree",
					k.kind, try, k.field, last[k.field], stored[k.field])
			}
		}
	}
}
