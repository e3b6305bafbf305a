package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/failover"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// countRecords counts the committed records of a topic, 0 when it does not
// exist; its client is closed at once, so that tests can poll it.
func countRecords(t *testing.T, bootstrap []string, topic string, opts ...kgo.Opt) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admCl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(bootstrap...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	ends, err := kadm.NewClient(admCl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	want := map[int32]int64{}
	starts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition], starts[o.Partition] = o.Offset, kgo.NewOffset().AtStart()
		}
	})
	if len(want) == 0 {
		return 0
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(bootstrap...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for len(want) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := want[r.Partition]; ok {
				if !r.Attrs.IsControl() && r.Offset < end {
					n++
				}
				if r.Offset+1 >= end {
					delete(want, r.Partition)
				}
			}
		})
	}
	return n
}

// Two mirrors that could write the same topic of the same target never both
// copy it: the later one is refused while the overlap is on a topic that
// exists, and a topic that appears later is copied by the older mirror only.
func TestTwoMirrorsNeverBothWriteATargetTopic(t *testing.T) {
	s := newMirrorSetup(t)
	sa := kafkatest.Cluster(t, "south-america")
	s.agent.mustPut("/v1/clusters/south-america", agentapi.Cluster{BootstrapServers: sa.Bootstrap()})
	createTopicOn(t, s.src, "LH.dup", 1, nil)
	producerOf(t, s.src).Produce(t, "LH.dup", 1, 3)
	s.putMirror(t, `LH\..*`) // na-to-eu, the older mirror
	waitMirrored(t, s.agent, map[string]map[int32]int64{"LH.dup": {0: 3}}, time.Minute)

	var e agentapi.Error
	code := s.agent.call("PUT", "/v1/mirrors/dup", agentapi.Mirror{Source: "north-america", Target: "europe",
		Topics: agentapi.Selector{Include: []string{`LH\.dup`}}, RefreshInterval: "1s"}, &e)
	if code != 409 || e.Error.Code != agentapi.CodeConflict || !strings.Contains(e.Error.Message, "na-to-eu") || !strings.Contains(e.Error.Message, "LH.dup") {
		t.Fatalf("PUT a mirror of LH.dup beside na-to-eu: HTTP %d %+v; want 409 naming na-to-eu and LH.dup", code, e.Error)
	}

	// A younger mirror that overlaps on no topic yet is stored; a topic
	// created later that both select is copied by the older one only.
	s.agent.mustPut("/v1/mirrors/later", agentapi.Mirror{Source: "north-america", Target: "europe",
		Topics: agentapi.Selector{Include: []string{`LH\.later.*`}}, RefreshInterval: "1s"})
	// From another source into the same names: the same collision.
	s.agent.mustPut("/v1/mirrors/sa-to-eu", agentapi.Mirror{Source: "south-america", Target: "europe",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s"})
	createTopicOn(t, s.src, "LH.later", 1, nil)
	producerOf(t, s.src).Produce(t, "LH.later", 1, 3)
	kafkatest.CreateTopic(t, sa.Bootstrap(), "LH.dup", 1, nil)
	kafkatest.NewProducer(t, sa.Bootstrap()).Produce(t, "LH.dup", 1, 5)
	waitMirrored(t, s.agent, map[string]map[int32]int64{"LH.later": {0: 3}}, time.Minute)
	for _, c := range []struct{ mirror, topic string }{{"later", "LH.later"}, {"sa-to-eu", "LH.dup"}} {
		kafkatest.Eventually(t, 30*time.Second, c.mirror+" reports the conflict, or copies", func() (bool, string) {
			st := s.agent.status(c.mirror)
			copied := countRecords(t, s.dst.Bootstrap(), c.topic, s.dst.ClientOpts()...)
			return copied > 3 || (strings.Contains(st.Reason, "na-to-eu") && strings.Contains(st.Reason, c.topic)), fmt.Sprintf("%s holds %d records; %s status %+v", c.topic, copied, c.mirror, st)
		})
	}
	time.Sleep(2 * time.Second) // two refresh intervals more: nothing more comes
	for topic, want := range map[string]int{"LH.later": 3, "LH.dup": 3} {
		if got := countRecords(t, s.dst.Bootstrap(), topic, s.dst.ClientOpts()...); got != want {
			t.Fatalf("europe's %s holds %d records, want %d: each copied by na-to-eu once", topic, got, want)
		}
	}
	for _, name := range []string{"later", "sa-to-eu"} {
		st := s.agent.status(name)
		for _, p := range st.Partitions {
			t.Fatalf("mirror %s copies %s[%d], which na-to-eu writes", name, p.Topic, p.Partition)
		}
		t.Logf("%s: %s (%s)", name, st.State, st.Reason)
	}
}

// A cycle, north-america -> europe and europe -> north-america under the
// same names, would copy records back and forth forever: neither direction
// copies until one policy covers both, and then only the one from the
// policy's active cluster runs.
func TestAMirrorCycleCopiesNothingUntilAPolicyCoversBoth(t *testing.T) {
	s := newMirrorSetup(t)
	createTopicOn(t, s.src, "LH.ORDERS", 1, nil)
	producerOf(t, s.src).Produce(t, "LH.ORDERS", 1, 3)
	s.putMirror(t, `LH\..*`)
	s.agent.mustPut("/v1/mirrors/eu-to-na", agentapi.Mirror{Source: "europe", Target: "north-america",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}, Exclude: []string{`LH\..*\.diverged`}}, RefreshInterval: "1s"})
	for name, other := range map[string]string{"na-to-eu": "eu-to-na", "eu-to-na": "na-to-eu"} {
		kafkatest.Eventually(t, 30*time.Second, name+" stopped by the cycle, or records copied around", func() (bool, string) {
			st := s.agent.status(name)
			na := countRecords(t, s.src.Bootstrap(), "LH.ORDERS", s.src.ClientOpts()...)
			return na > 3 || (st.State == agentapi.MirrorStopped && strings.Contains(st.Reason, other) && strings.Contains(st.Reason, "policy")), fmt.Sprintf("north-america holds %d; %s: %+v", na, name, st)
		})
	}
	time.Sleep(2 * time.Second) // two refresh intervals more: nothing moves
	if na, eu := countRecords(t, s.src.Bootstrap(), "LH.ORDERS", s.src.ClientOpts()...), countRecords(t, s.dst.Bootstrap(), "LH.ORDERS", s.dst.ClientOpts()...); na != 3 || eu != 0 {
		t.Fatalf("outside a policy the cycle copied: north-america holds %d records (want 3), europe %d (want 0)", na, eu)
	}
	t.Logf("outside a policy: %s", s.agent.status("na-to-eu").Reason)

	s.agent.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america",
		Mirrors: []string{"na-to-eu", "eu-to-na"}, Fencing: agentapi.FencingNone})
	waitMirrored(t, s.agent, map[string]map[int32]int64{"LH.ORDERS": {0: 3}}, time.Minute)
	if st := s.agent.status("eu-to-na"); st.State != agentapi.MirrorStopped || !strings.Contains(st.Reason, "north-america active") {
		t.Fatalf("eu-to-na under the policy: %s (%s), want stopped: north-america is active", st.State, st.Reason)
	}
	time.Sleep(2 * time.Second)
	if na, eu := countRecords(t, s.src.Bootstrap(), "LH.ORDERS", s.src.ClientOpts()...), countRecords(t, s.dst.Bootstrap(), "LH.ORDERS", s.dst.ClientOpts()...); na != 3 || eu != 3 {
		t.Fatalf("under the policy: north-america holds %d records, europe %d; want 3 and 3", na, eu)
	}
}

// mirrorThenLoseNorthAmerica mirrors 10 records of LH.ORDERS to europe,
// then loses north-america and fails over to europe: north-america diverged.
func (s *failoverSetup) mirrorThenLoseNorthAmerica(t *testing.T) {
	t.Helper()
	kafkatest.CreateTopic(t, s.na.Bootstrap(), "LH.ORDERS", 1, nil)
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 1, 10)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 1, 10)
	s.na.Kill()
	if code, _, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "lose-na"}); code != 200 {
		t.Fatalf("forced failover: HTTP %d %+v", code, e.Error)
	}
}

// A diverged cluster may hold records never mirrored: nothing is copied
// from or into it, by the policy's mirrors or by any other.
func TestADivergedClusterIsFrozenForEveryMirror(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 1)
	s.mirrorThenLoseNorthAmerica(t)
	s.na.Restart()
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 1, 5) // the divergent tail
	kafkatest.NewProducer(t, s.eu.Bootstrap()).Produce(t, "LH.ORDERS", 1, 2) // europe is active

	// New mirrors outside the policy, under other names so that they
	// overlap nothing.
	s.agent.mustPut("/v1/mirrors/na-to-eu-2", agentapi.Mirror{Source: "north-america", Target: "europe", ReplicationPolicy: agentapi.ReplicationPrefix,
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s", TasksMax: 1})
	s.agent.mustPut("/v1/mirrors/eu-to-na-2", agentapi.Mirror{Source: "europe", Target: "north-america", ReplicationPolicy: agentapi.ReplicationPrefix,
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s", TasksMax: 1})
	for name, topic := range map[string]struct {
		bootstrap []string
		topic     string
	}{"na-to-eu-2": {s.eu.Bootstrap(), "north-america.LH.ORDERS"}, "eu-to-na-2": {s.na.Bootstrap(), "europe.LH.ORDERS"}} {
		kafkatest.Eventually(t, 30*time.Second, name+" stopped by the divergence, or copying", func() (bool, string) {
			st := s.agent.status(name)
			n := countRecords(t, topic.bootstrap, topic.topic)
			return n > 0 || (st.State == agentapi.MirrorStopped && strings.Contains(st.Reason, "north-america") && strings.Contains(st.Reason, "loosehanger")), fmt.Sprintf("%s holds %d; %+v", topic.topic, n, st)
		})
		time.Sleep(2 * time.Second)
		if n := countRecords(t, topic.bootstrap, topic.topic); n != 0 {
			t.Fatalf("%s copied %d records from or into the diverged north-america", name, n)
		}
		t.Logf("%s: %s", name, s.agent.status(name).Reason)
	}
}

// What a failover or a reconciliation reads cannot be deleted from under
// it; other deletions stay possible, and the policy says what is missing.
func TestWhatAFailoverOrAReconciliationNeedsCannotBeDeleted(t *testing.T) {
	refused := func(t *testing.T, a *agentProc, path string) {
		t.Helper()
		var e agentapi.Error
		if code := a.call("DELETE", path, nil, &e); code != 409 || !strings.Contains(e.Error.Message, "loosehanger") {
			t.Fatalf("DELETE %s: HTTP %d %+v, want 409 naming the policy", path, code, e.Error)
		}
		t.Logf("DELETE %s: %s", path, e.Error.Message)
	}

	t.Run("the active cluster, a diverged cluster and the mirrors between them", func(t *testing.T) {
		s := newFailoverSetup(t, agentapi.FencingNone, 1)
		s.mirrorThenLoseNorthAmerica(t)
		refused(t, s.agent, "/v1/mirrors/na-to-eu")
		refused(t, s.agent, "/v1/clusters/north-america")
		refused(t, s.agent, "/v1/clusters/europe")
	})

	t.Run("a mirror of a policy while its failover is under way", func(t *testing.T) {
		na := kafkatest.Cluster(t, "north-america")
		eu := kafkatest.Cluster(t, "europe")
		a := startAgentWith(t, eu.BootstrapString(), []string{"KFO_TEST_HALT_FAILOVER_AFTER=" + failover.StepBegun})
		a.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: na.Bootstrap()})
		a.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: eu.Bootstrap()})
		a.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{Source: "north-america", Target: "europe",
			Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s", TasksMax: 1})
		a.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america",
			Mirrors: []string{"na-to-eu"}, Fencing: agentapi.FencingNone, DrainTimeout: "30s"})
		go func() {
			_, _ = postFailover(a.url, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: "halted"})
		}()
		a.waitLogged(t, time.Minute, haltedMarker("loosehanger", failover.StepBegun))
		refused(t, a, "/v1/mirrors/na-to-eu")
		a.kill9()
	})

	t.Run("other deletions stay possible; the policy reports what is missing", func(t *testing.T) {
		s := newFailoverSetup(t, agentapi.FencingNone, 1)
		if code := s.agent.call("DELETE", "/v1/mirrors/na-to-eu", nil, nil); code != 204 {
			t.Fatalf("DELETE a policy's mirror with no failover under way: HTTP %d, want 204", code)
		}
		// Terraform replaces a mirror: the policy is applied again naming
		// it before it exists again.
		var p agentapi.Policy
		var e agentapi.Error
		body := agentapi.Policy{Clusters: []string{"north-america", "europe"}, Mirrors: []string{"na-to-eu"}, Fencing: agentapi.FencingNone, DrainTimeout: "30s"}
		if code := s.agent.call("PUT", "/v1/policies/loosehanger", body, &e); code != 200 {
			t.Fatalf("PUT the policy naming the deleted mirror: HTTP %d %+v, want 200", code, e.Error)
		}
		s.agent.call("GET", "/v1/policies/loosehanger", nil, &p)
		if len(p.Standbys) != 1 || p.Standbys[0].Ready || !strings.Contains(p.Standbys[0].Reason, "na-to-eu") {
			t.Fatalf("standbys with na-to-eu missing: %+v, want europe not ready naming na-to-eu", p.Standbys)
		}
		t.Logf("europe: %s", p.Standbys[0].Reason)
		// A policy created naming what never existed is still refused.
		if code := s.agent.call("PUT", "/v1/policies/other", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america", Mirrors: []string{"no-such-mirror"}}, &e); code != 400 || e.Error.Field != "mirrors[0]" {
			t.Fatalf("PUT a new policy naming no-such-mirror: HTTP %d %+v, want 400 on mirrors[0]", code, e.Error)
		}
	})
}

// TestReplicationBothWaysWithThePrefixPolicyCopiesEachRecordOnceAndNeverBack:
// MirrorMaker 2's active/active scenario. Each cluster's LH.* topics are
// copied to the other under its name as prefix; a copy is never copied
// back (north-america.LH.NA does not match LH\..*), so no topic named
// twice over appears, and each record is on the other cluster exactly once.
func TestReplicationBothWaysWithThePrefixPolicyCopiesEachRecordOnceAndNeverBack(t *testing.T) {
	s := newMirrorSetup(t)
	createTopicOn(t, s.src, "LH.NA", 2, nil)
	createTopicOn(t, s.dst, "LH.EU", 2, nil)
	producerOf(t, s.src).Produce(t, "LH.NA", 2, 40)
	producerOf(t, s.dst).Produce(t, "LH.EU", 2, 30)
	for name, m := range map[string]agentapi.Mirror{
		"na-to-eu": {Source: "north-america", Target: "europe"},
		"eu-to-na": {Source: "europe", Target: "north-america"},
	} {
		m.Topics = agentapi.Selector{Include: []string{`LH\..*`}}
		m.ReplicationPolicy, m.RefreshInterval = agentapi.ReplicationPrefix, "1s"
		s.agent.mustPut("/v1/mirrors/"+name, m)
	}
	kafkatest.Eventually(t, time.Minute, "each cluster's records on the other", func() (bool, string) {
		eu := countRecords(t, s.dst.Bootstrap(), "north-america.LH.NA", s.dst.ClientOpts()...)
		na := countRecords(t, s.src.Bootstrap(), "europe.LH.EU", s.src.ClientOpts()...)
		return eu == 80 && na == 60, fmt.Sprintf("europe holds %d of 80, north-america %d of 60; na-to-eu %+v; eu-to-na %+v", eu, na, s.agent.status("na-to-eu"), s.agent.status("eu-to-na"))
	})
	assertSameRecords(t, s.src, s.dst, "LH.NA", "north-america.LH.NA")
	assertSameRecords(t, s.dst, s.src, "LH.EU", "europe.LH.EU")
	for _, c := range []kafkatest.Kafka{s.src, s.dst} {
		topics, err := kadm.NewClient(kafkatest.ClientOf(t, c)).ListTopics(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range topics.Names() {
			if strings.Count(name, "north-america.")+strings.Count(name, "europe.") > 1 {
				t.Errorf("a copy was copied back: topic %s", name)
			}
		}
	}
}
