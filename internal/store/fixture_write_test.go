package store

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/policy"
	"github.com/kafka-failover/kafka-failover/internal/recordformat/fixture"
)

// stateFixture holds __kfo_state's records of format version 1, as the
// commit it names wrote them (before records carried a version).
const stateFixture = "testdata/records-v1.json"

// stateView is what a replica's readers answer from the state topic.
func stateView(t *testing.T, s *Store) map[string]any {
	t.Helper()
	var policies []agentapi.Policy
	for _, name := range s.Policies() {
		p, err := s.GetPolicy(name)
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, p)
	}
	passwords := map[string]string{}
	for _, c := range s.Clusters() {
		conn, err := s.Conn(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		passwords[c.Name] = conn.SASLPassword
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]any{"clusters": s.clusters, "passwords": passwords, "mirrors": s.mirrors, "policies": policies,
		"forgotten": s.forgot, "retired": s.retired, "secrets_bound": s.secretsBound}
}

// TestWriteStateFixture writes stateFixture through the store's API, with
// KFO_WRITE_FIXTURES=1, at the commit the fixture names.
func TestWriteStateFixture(t *testing.T) {
	fixture.SkipUnlessWriting(t)
	ctx := context.Background()
	c := kafkatest.Cluster(t, "state")
	s, err := Open(ctx, kafkaconn.Conn{Name: "state", BootstrapServers: c.Bootstrap()}, testSealer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	must := func(_ any, _ bool, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutCluster(ctx, agentapi.Cluster{Name: "na", BootstrapServers: []string{"na-1:9092"}, SASL: &agentapi.SASL{Mechanism: "SCRAM-SHA-512", Username: "mirror", Password: "na-secret"}}))
	must(s.PutCluster(ctx, agentapi.Cluster{Name: "eu", BootstrapServers: []string{"eu-1:9092"}}))
	must(s.PutMirror(ctx, agentapi.Mirror{Name: "na-to-eu", Source: "na", Target: "eu", Topics: agentapi.Selector{Include: []string{"LH.*"}}, Groups: agentapi.Selector{Include: []string{"consumer-.*"}}, TasksMax: 2}))
	must(s.PutMirror(ctx, agentapi.Mirror{Name: "old", Source: "na", Target: "eu", Topics: agentapi.Selector{Include: []string{"OLD.*"}}}))
	if err := s.DeleteMirror(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	must(s.PutPolicy(ctx, agentapi.Policy{Name: "lh", Clusters: []string{"na", "eu"}, Primary: "na", Mirrors: []string{"na-to-eu"}}))
	p, _ := s.GetPolicy("lh")
	run := &agentapi.FailoverRun{RequestID: "r1", From: "na", To: "eu", Mode: "forced", Agent: "a", StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if _, err := s.AppendOp(ctx, policy.Op{Kind: policy.OpBegin, Policy: "lh", Generation: p.CreatedAt, RequestID: "r1", Run: run}); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetDivergence(ctx, ForgottenDivergence{Cluster: "sa", Policy: "gone", Epoch: 3, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.BindSecrets(ctx); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for _, r := range kafkatest.ReadAll(t, c.Bootstrap(), StateTopic)[0] {
		k := &kgo.Record{Topic: StateTopic, Offset: r.Offset, Key: r.Key, Value: r.Value, Headers: r.Headers}
		recs = append(recs, k)
	}
	fixture.Write(t, stateFixture, "f7abae5", fixture.Of(recs), stateView(t, s))
}
