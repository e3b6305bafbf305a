package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// topicConfigEntry answers one config of a topic as the cluster describes it.
func topicConfigEntry(t *testing.T, c kafkatest.Kafka, topic, key string) (kadm.Config, bool) {
	t.Helper()
	rcs, err := kadm.NewClient(kafkatest.ClientOf(t, c)).DescribeTopicConfigs(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Key == key {
				return c, true
			}
		}
	}
	return kadm.Config{}, false
}

// topicConfig answers one config value of a topic, "" when unset.
func topicConfig(t *testing.T, c kafkatest.Kafka, topic, key string) string {
	t.Helper()
	if e, ok := topicConfigEntry(t, c, topic, key); ok && e.Value != nil {
		return *e.Value
	}
	return ""
}

// setTopicConfig is true when key is set on the topic itself (a dynamic
// topic config), not inherited from the broker's defaults.
func setTopicConfig(t *testing.T, c kafkatest.Kafka, topic, key string) bool {
	t.Helper()
	e, ok := topicConfigEntry(t, c, topic, key)
	return ok && e.Source == kmsg.ConfigSourceDynamicTopicConfig
}

// TestPrefixPolicyNamesTargetTopicsAfterTheSourceAndSyncsTopicConfigsBothWays:
// a config set, changed, and reset to its default on the source is set,
// changed, and reset on the target.
func TestPrefixPolicyNamesTargetTopicsAfterTheSourceAndSyncsTopicConfigsBothWays(t *testing.T) {
	s := newMirrorSetup(t)
	retention := "3600000"
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", 2, map[string]*string{"retention.ms": &retention}, s.src.ClientOpts()...)
	prod := kafkatest.NewProducer(t, s.src.Bootstrap(), s.src.ClientOpts()...)
	prod.Produce(t, "LH.ORDERS", 2, 100)
	s.agent.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{
		Source: "north-america", Target: "europe",
		Topics:            agentapi.Selector{Include: []string{`LH\..*`}},
		ReplicationPolicy: agentapi.ReplicationPrefix,
		SyncTopicConfigs:  true,
		RefreshInterval:   "1s",
	})
	waitMirrored(t, s.agent, map[string]map[int32]int64{"LH.ORDERS": {0: 100, 1: 100}}, time.Minute)
	if kafkatest.TopicExists(t, s.dst.Bootstrap(), "LH.ORDERS", s.dst.ClientOpts()...) {
		t.Fatal("prefix policy: LH.ORDERS exists on the target under its own name")
	}
	assertSameRecords(t, s.src, s.dst, "LH.ORDERS", "north-america.LH.ORDERS")
	if got := topicConfig(t, s.dst, "north-america.LH.ORDERS", "retention.ms"); got != retention {
		t.Fatalf("retention.ms on the target is %q, want the source's %q", got, retention)
	}
	// A config changed on the source follows within refresh_interval.
	changed := "7200000"
	_, err := kadm.NewClient(kafkatest.ClientOf(t, s.src)).AlterTopicConfigs(context.Background(),
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: &changed}}, "LH.ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Eventually(t, 30*time.Second, "changed retention.ms reaches the target", func() (bool, string) {
		got := topicConfig(t, s.dst, "north-america.LH.ORDERS", "retention.ms")
		return got == changed, got
	})
	// A durability choice made for the target's own brokers is not the
	// source's to reset.
	one := "1"
	if _, err := kadm.NewClient(kafkatest.ClientOf(t, s.dst)).AlterTopicConfigs(context.Background(),
		[]kadm.AlterConfig{{Op: kadm.SetConfig, Name: "min.insync.replicas", Value: &one}}, "north-america.LH.ORDERS"); err != nil {
		t.Fatal(err)
	}
	// Reset to its default on the source: reset on the target too, or the
	// standby keeps a retention nobody asked for.
	_, err = kadm.NewClient(kafkatest.ClientOf(t, s.src)).AlterTopicConfigs(context.Background(),
		[]kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: "retention.ms"}}, "LH.ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	if setTopicConfig(t, s.src, "LH.ORDERS", "retention.ms") {
		t.Fatal("retention.ms is still set on the source after its reset")
	}
	kafkatest.Eventually(t, 30*time.Second, "retention.ms reset on the target", func() (bool, string) {
		return !setTopicConfig(t, s.dst, "north-america.LH.ORDERS", "retention.ms"), topicConfig(t, s.dst, "north-america.LH.ORDERS", "retention.ms")
	})
	if !setTopicConfig(t, s.dst, "north-america.LH.ORDERS", "min.insync.replicas") {
		t.Error("min.insync.replicas set on the target by hand was reset by the config sync")
	}
}

func TestStartFromLatestCopiesOnlyRecordsProducedAfterTheMirrorWasCreated(t *testing.T) {
	s := newMirrorSetup(t)
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", 1, nil, s.src.ClientOpts()...)
	cl := kafkatest.ClientOf(t, s.src)
	ctx := context.Background()
	old := kafkatest.GenRecord("LH.ORDERS", 0, 0)
	old.Timestamp, old.Value = time.Time{}, []byte("before the mirror")
	if err := cl.ProduceSync(ctx, old).FirstErr(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // timestamps are in milliseconds
	s.agent.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{
		Source: "north-america", Target: "europe",
		Topics:          agentapi.Selector{Include: []string{`LH\..*`}},
		StartFrom:       agentapi.StartLatest,
		RefreshInterval: "1s",
	})
	time.Sleep(50 * time.Millisecond)
	for i := range 3 {
		r := kafkatest.GenRecord("LH.ORDERS", 0, i+1)
		r.Timestamp, r.Value = time.Time{}, fmt.Appendf(nil, "after the mirror %d", i)
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitMirrored(t, s.agent, map[string]map[int32]int64{"LH.ORDERS": {0: 4}}, time.Minute)
	got := kafkatest.ReadAll(t, s.dst.Bootstrap(), "LH.ORDERS", s.dst.ClientOpts()...)[0]
	if len(got) != 3 || string(got[0].Value) != "after the mirror 0" {
		t.Fatalf("start_from latest: target holds %d records starting %q, want the 3 produced after the mirror", len(got), valueOf(got))
	}
}

func valueOf(rs []kafkatest.Record) string {
	if len(rs) == 0 {
		return ""
	}
	return string(rs[0].Value)
}
