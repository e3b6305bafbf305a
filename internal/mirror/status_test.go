package mirror

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// A partition whose task moved to another replica is published anew by its
// new owner before that owner has fetched it: the report of a forced
// failover must still count against what its last owner saw, not drop it.
func TestAPartitionThatChangedTaskKeepsItsLastHighWatermarkObservation(t *testing.T) {
	state := kafkatest.Cluster(t, "europe")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	open := func() *Board {
		b, err := OpenBoard(ctx, kafkaconn.Conn{Name: "europe", BootstrapServers: state.Bootstrap()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		return b
	}
	writer := open()
	seen := time.Now().UTC().Add(-time.Second)
	old := agentapi.PartitionStatus{Topic: "LH.ORDERS", TargetTopic: "LH.ORDERS", Partition: 0, Task: 0, Agent: "a",
		SourceHighWatermark: 500, SourceHighWatermarkAt: seen, LastMirroredOffset: 199, UpdatedAt: seen}
	writer.Publish(ctx, "na-to-eu", []agentapi.PartitionStatus{old}, "")
	moved := agentapi.PartitionStatus{Topic: "LH.ORDERS", TargetTopic: "LH.ORDERS", Partition: 0, Task: 1, Agent: "b",
		SourceHighWatermark: -1, LastMirroredOffset: 199, UpdatedAt: time.Now().UTC()}
	writer.Publish(ctx, "na-to-eu", []agentapi.PartitionStatus{moved}, "")

	reader := open() // a replica that starts after both, replaying the topic
	kafkatest.Eventually(t, 30*time.Second, "the new owner's status is read", func() (bool, string) {
		for _, p := range reader.LastSeen("na-to-eu", nil) {
			if p.Agent == "b" {
				return true, ""
			}
		}
		return false, "not yet"
	})
	got := reader.LastSeen("na-to-eu", nil)
	if len(got) != 1 || got[0].SourceHighWatermark != 500 || !got[0].SourceHighWatermarkAt.Equal(seen) {
		t.Fatalf("after the task moved: %+v; want the last observation, high watermark 500 seen at %v", got, seen)
	}
}

// A partition whose new owner has not finished its start is listed as
// starting, counts as not copied, and what its last owner mirrored still
// stands for the loss forecast: the new owner knows no position yet.
func TestAPartitionWhoseTaskIsStartingIsListedAsStartingAndKeepsItsLastPosition(t *testing.T) {
	state := kafkatest.Cluster(t, "europe")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := OpenBoard(ctx, kafkaconn.Conn{Name: "europe", BootstrapServers: state.Bootstrap()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	now := time.Now().UTC()
	b.Publish(ctx, "na-to-eu", []agentapi.PartitionStatus{{Topic: "LH.ORDERS", TargetTopic: "LH.ORDERS", Partition: 0, Agent: "a",
		SourceHighWatermark: 500, SourceHighWatermarkAt: now, LastMirroredOffset: 199, UpdatedAt: now}}, "")
	starting := newTaskStats(1, "b")
	starting.starting([]SourcePartition{{Topic: "LH.ORDERS", Partition: 0, TargetTopic: "LH.ORDERS"}})
	b.Publish(ctx, "na-to-eu", starting.snapshot(time.Now()), "")

	kafkatest.Eventually(t, 30*time.Second, "the new owner's status is read", func() (bool, string) {
		st := b.Status("na-to-eu")
		return len(st.Partitions) == 1 && st.Partitions[0].Agent == "b", fmt.Sprintf("%+v", st.Partitions)
	})
	got := b.Status("na-to-eu").Partitions[0]
	if !got.Starting || got.LastMirroredOffset != 199 || got.LagRecords != 300 {
		t.Fatalf("status of the partition: %+v; want starting, last mirrored offset 199 (its last owner's), lag 300", got)
	}
	if seen := b.LastSeen("na-to-eu", nil); len(seen) != 1 || seen[0].LastMirroredOffset != 199 {
		t.Fatalf("what a forced failover would report against: %+v; want last mirrored offset 199", seen)
	}
	if n, _ := b.notCopied("na-to-eu", []SourcePartition{{Topic: "LH.ORDERS", Partition: 0}}, time.Now()); n != 1 {
		t.Fatalf("%d partitions not copied; want the starting one", n)
	}
}
