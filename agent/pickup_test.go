package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// pickupInterval is the refresh_interval of the pick-up tests: short for
// the short test set, long enough that a pick-up within it is told apart
// from one that waits for the next refresh.
const pickupInterval = 4 * time.Second

// within waits until cond holds, looking every 10 ms (a pick-up is timed
// to a few of them), and fails once deadline passed; it answers when cond
// was seen to hold.
func within(t *testing.T, deadline time.Time, what string, cond func() (bool, string)) time.Time {
	t.Helper()
	var last string
	for {
		ok, state := cond()
		now := time.Now()
		if ok {
			return now
		}
		last = state
		if now.After(deadline) {
			t.Fatalf("%s: not true by its deadline; last seen: %s", what, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// putPickupMirror declares a mirror of LH.* that checkpoints consumer-*
// groups, looking for new ones every pickupInterval.
func (s *mirrorSetup) putPickupMirror(t *testing.T) {
	t.Helper()
	s.agent.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{
		Source: "north-america", Target: "europe",
		Topics:          agentapi.Selector{Include: []string{`LH\..*`}},
		Groups:          agentapi.Selector{Include: []string{`consumer-.*`}},
		RefreshInterval: pickupInterval.String(),
	})
}

// A topic is created on the source right after the agent found the one
// before it (its target topic appeared: the agent had just looked). The
// new one must be copying, its first records committed on the target,
// within refresh_interval of its creation: no margin, because the
// guarantee counts the copy's start in the interval.
func TestATopicCreatedRightAfterTheAgentLookedIsCopyingWithinRefreshInterval(t *testing.T) {
	s := newMirrorSetup(t)
	srcBoot, srcOpts := s.src.Bootstrap(), s.src.ClientOpts()
	s.putPickupMirror(t)
	// kadm answers a topic list from franz-go's metadata cache while it
	// is younger than MetadataMinAge: this one must see the target now.
	dst := kadm.NewClient(kafkatest.ClientOf(t, s.dst, kgo.MetadataMinAge(10*time.Millisecond)))

	kafkatest.CreateTopic(t, srcBoot, "LH.BEFORE", 1, nil, srcOpts...)
	within(t, time.Now().Add(time.Minute), "LH.BEFORE created on the target", func() (bool, string) {
		td, err := dst.ListTopics(context.Background(), "LH.BEFORE")
		return err == nil && td.Has("LH.BEFORE") && td["LH.BEFORE"].Err == nil, fmt.Sprint(err)
	})

	const partitions = 3
	created := time.Now()
	kafkatest.CreateTopic(t, srcBoot, "LH.NEW", partitions, nil, srcOpts...)
	kafkatest.NewProducer(t, srcBoot, srcOpts...).Produce(t, "LH.NEW", partitions, 1)
	copying := within(t, created.Add(pickupInterval), fmt.Sprintf("LH.NEW copying within refresh_interval (%s) of its creation", pickupInterval), func() (bool, string) {
		copied := 0
		for _, p := range s.agent.status("na-to-eu").Partitions {
			if p.Topic == "LH.NEW" && p.LastMirroredOffset >= 0 {
				copied++
			}
		}
		return copied == partitions, fmt.Sprintf("%d of %d partitions of LH.NEW have a record copied", copied, partitions)
	})
	t.Logf("LH.NEW copying %s after its creation (refresh_interval %s)", copying.Sub(created).Round(time.Millisecond), pickupInterval)
}

// A group commits for the first time right after the agent checkpointed
// the one before it (the agent had just listed the groups). Its first
// checkpoint must be stored within refresh_interval of that commit.
func TestAGroupsFirstCommitRightAfterTheAgentLookedIsCheckpointedWithinRefreshInterval(t *testing.T) {
	s := newMirrorSetup(t)
	srcBoot, srcOpts := s.src.Bootstrap(), s.src.ClientOpts()
	const partitions = 2
	kafkatest.CreateTopic(t, srcBoot, "LH.ORDERS", partitions, nil, srcOpts...)
	kafkatest.NewProducer(t, srcBoot, srcOpts...).Produce(t, "LH.ORDERS", partitions, 10)
	s.putPickupMirror(t)
	s.waitCaughtUp(t, "LH.ORDERS")

	stored := func(group string) func() (bool, string) {
		return func() (bool, string) {
			var cps agentapi.GroupCheckpoints
			code := s.agent.call("GET", "/v1/mirrors/na-to-eu/groups/"+group, nil, &cps)
			return code == 200 && len(cps.Partitions) == partitions, fmt.Sprintf("HTTP %d, %d of %d partitions checkpointed", code, len(cps.Partitions), partitions)
		}
	}
	// A member-less commit: the group's first commit is one request, so
	// that it lands right after the agent's look.
	src := kadm.NewClient(kafkatest.ClientOf(t, s.src))
	commit := func(group string) {
		t.Helper()
		var offsets kadm.Offsets
		for p := range int32(partitions) {
			offsets.Add(kadm.Offset{Topic: "LH.ORDERS", Partition: p, At: 5, LeaderEpoch: -1})
		}
		resp, err := src.CommitOffsets(context.Background(), group, offsets)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatalf("commit of %s: %v", group, err)
		}
	}
	commit("consumer-before")
	within(t, time.Now().Add(time.Minute), "consumer-before checkpointed", stored("consumer-before"))

	commit("consumer-new")
	committed := time.Now()
	checkpointed := within(t, committed.Add(pickupInterval), fmt.Sprintf("consumer-new checkpointed within refresh_interval (%s) of its first commit", pickupInterval), stored("consumer-new"))
	t.Logf("consumer-new checkpointed %s after its first commit (refresh_interval %s)", checkpointed.Sub(committed).Round(time.Millisecond), pickupInterval)
}
