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
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// Offset-sync snapshots under kill -9: agents whose tasks snapshot every 3
// transactions (KFO_TEST_SNAPSHOT_FLOOR) and stop at a named point of the
// protocol (KFO_TEST_HALT_MIRROR_AT), where the test kills them.

// snapshotSetup is a plaintext source and target of one kind, LH.ORDERS
// with one partition, and a mirror with one task.
type snapshotSetup struct {
	src, dst kafkatest.Kafka
	agent    *agentProc
	prod     *kafkatest.Producer
	produced int
}

var snapshotMirror = agentapi.Mirror{Name: "na-to-eu", Source: "north-america", Target: "europe",
	Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s", TasksMax: 1}

func newSnapshotSetup(t *testing.T, kind string) *snapshotSetup {
	t.Helper()
	s := &snapshotSetup{
		src: kafkatest.NewClusterOfKind(t, kind, "north-america", kafkatest.ClusterOptions{}),
		dst: kafkatest.NewClusterOfKind(t, kind, "europe", kafkatest.ClusterOptions{}),
	}
	createTopicOn(t, s.src, "LH.ORDERS", 1, nil)
	s.prod = producerOf(t, s.src)
	return s
}

// start starts the agent with env, or starts it again with env.
func (s *snapshotSetup) start(t *testing.T, env ...string) {
	t.Helper()
	env = append(env, "KFO_TEST_SNAPSHOT_FLOOR=3")
	if s.agent != nil {
		s.agent.env = env
		s.agent.start()
		return
	}
	s.agent = startAgentWith(t, strings.Join(s.dst.Bootstrap(), ","), env)
	s.agent.declare("north-america", s.src)
	s.agent.declare("europe", s.dst)
	s.agent.mustPut("/v1/mirrors/na-to-eu", snapshotMirror)
}

// bursts produces n bursts of 5 records and waits until europe holds each
// before the next, so that each is a transaction and a sync of its own.
func (s *snapshotSetup) bursts(t *testing.T, n int) {
	t.Helper()
	for range n {
		s.prod.Produce(t, "LH.ORDERS", 1, 5)
		s.produced += 5
		kafkatest.Eventually(t, time.Minute, fmt.Sprintf("%d records on europe", s.produced), func() (bool, string) {
			got := len(kafkatest.ReadAll(t, s.dst.Bootstrap(), "LH.ORDERS", s.dst.ClientOpts()...)[0])
			return got >= s.produced, fmt.Sprint(got, " records on europe")
		})
	}
}

func (s *snapshotSetup) syncLogStart(t *testing.T) int64 {
	t.Helper()
	topic := offsetsync.Topic(snapshotMirror.Name)
	starts, err := kadm.NewClient(kafkatest.ClientOf(t, s.dst)).ListStartOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := starts.Lookup(topic, 0)
	return o.Offset
}

func (s *snapshotSetup) syncTopicConfigs(t *testing.T) map[string]string {
	t.Helper()
	have, err := mirror.SyncTopicConfigs(context.Background(), kadm.NewClient(kafkatest.ClientOf(t, s.dst)), snapshotMirror.Name)
	if err != nil {
		t.Fatal(err)
	}
	return have
}

// finish waits for a snapshot to delete history, stops the agent, and
// checks that europe holds every record once and that the mirror's final
// syncs translate every source offset to its copy's.
func (s *snapshotSetup) finish(t *testing.T) {
	t.Helper()
	for i := 0; s.syncLogStart(t) == 0; i++ {
		if i == 10 {
			t.Fatal("30 more transactions with a snapshot floor of 3 deleted no offset sync")
		}
		s.bursts(t, 3)
	}
	start := s.syncLogStart(t)
	s.agent.stop()
	assertSameRecords(t, s.src, s.dst, "LH.ORDERS", "LH.ORDERS")
	src := kafkatest.ReadAll(t, s.src.Bootstrap(), "LH.ORDERS", s.src.ClientOpts()...)[0]
	dst := kafkatest.ReadAll(t, s.dst.Bootstrap(), "LH.ORDERS", s.dst.ClientOpts()...)[0]
	idx, err := mirror.FinalSyncs(context.Background(), append(s.dst.ClientOpts(), kgo.SeedBrokers(s.dst.Bootstrap()...)), snapshotMirror)
	if err != nil {
		t.Fatal(err)
	}
	l := idx.Log("LH.ORDERS", 0)
	for i, r := range src {
		if got, ok := l.Translate(r.Offset); !ok || got != dst[i].Offset {
			t.Fatalf("Translate(%d) = %d, %v; its copy is at %d", r.Offset, got, ok, dst[i].Offset)
		}
	}
	end := src[len(src)-1].Offset + 1
	if cp := l.TranslateCommitted(end); !cp.Exact || cp.Target != dst[len(dst)-1].Offset+1 {
		t.Fatalf("TranslateCommitted(%d) = %+v, want exact %d", end, cp, dst[len(dst)-1].Offset+1)
	}
	t.Logf("%d records copied once and translated exactly; the sync topic starts at %d", len(src), start)
}

// An agent killed after a task committed a snapshot and before it deleted
// what the snapshot restates: its restart reads the old syncs and the
// snapshot both, copies nothing twice and loses nothing, and its next
// snapshot deletes the history.
func TestAnAgentKilledBetweenASnapshotAndItsDeletionLosesAndDuplicatesNothing(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		s := newSnapshotSetup(t, kind)
		s.start(t, "KFO_TEST_HALT_MIRROR_AT="+mirror.StepSnapshotCommitted)
		s.bursts(t, 3)
		s.agent.waitLogged(t, time.Minute, mirrorHaltedMarker(snapshotMirror.Name, mirror.StepSnapshotCommitted))
		s.agent.kill9()
		if start := s.syncLogStart(t); start != 0 {
			t.Fatalf("the sync topic starts at %d: the agent deleted before it was killed", start)
		}
		s.prod.Produce(t, "LH.ORDERS", 1, 7) // while no agent runs
		s.produced += 7
		s.start(t)
		s.bursts(t, 3)
		s.finish(t)
	})
}

// An agent killed when it found the sync topic compacted (as agents before
// snapshots created it) and before it altered its configs: the restart
// migrates the topic, then copies every record once and trims the history.
func TestAnAgentKilledWhileMigratingTheSyncTopicLosesNothing(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		s := newSnapshotSetup(t, kind)
		createTopicOn(t, s.dst, offsetsync.Topic(snapshotMirror.Name), 1, kafkatest.CompactedTopicConfigs())
		s.prod.Produce(t, "LH.ORDERS", 1, 20)
		s.produced += 20
		s.start(t, "KFO_TEST_HALT_MIRROR_AT="+mirror.StepSyncTopicMigrating)
		s.agent.waitLogged(t, time.Minute, mirrorHaltedMarker(snapshotMirror.Name, mirror.StepSyncTopicMigrating))
		s.agent.kill9()
		if policy := s.syncTopicConfigs(t)["cleanup.policy"]; policy != "compact" {
			t.Fatalf("cleanup.policy %q before the migration", policy)
		}
		s.start(t)
		s.bursts(t, 3)
		have := s.syncTopicConfigs(t)
		for k, v := range offsetsync.TopicConfigs() {
			if have[k] != v {
				t.Fatalf("after the restart %s = %q, want %q", k, have[k], v)
			}
		}
		s.finish(t)
	})
}
