package main

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// replaceSetup is the reference story with a 6-partition LH.ORDERS whose
// first 500 records per partition are mirrored by 4 tasks, and a group that
// read part of them on north-america.
func replaceSetup(t *testing.T) (*failoverSetup, *kafkatest.Producer) {
	t.Helper()
	s := newFailoverSetup(t, agentapi.FencingNone, 4)
	kafkatest.CreateTopic(t, s.na.Bootstrap(), "LH.ORDERS", 6, nil)
	prod := kafkatest.NewProducer(t, s.na.Bootstrap())
	prod.Produce(t, "LH.ORDERS", 6, 500)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 6, 500)
	return s, prod
}

// assertFailoverResumesExactly commits a group's offsets on north-america,
// fails over to europe and checks that nothing is lost and that the group
// resumes in europe at its next unread record: translation stayed exact.
func assertFailoverResumesExactly(t *testing.T, s *failoverSetup) {
	t.Helper()
	read := map[int32]int{0: 100, 1: 550, 2: 600, 3: 10, 4: 300, 5: 599}
	consumeAndCommit(t, s.na.Bootstrap(), "consumer-southamerica", "LH.ORDERS", read)
	waitSynced(t, s.agent, "consumer-southamerica", 6)
	code, res, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModePlanned, RequestID: "after-replace"})
	if code != http.StatusOK {
		t.Fatalf("planned failover after the mirror changed: HTTP %d %+v", code, e.Error)
	}
	if res.Report == nil || res.Report.RecordsLost != 0 {
		t.Fatalf("planned failover lost records: %+v", res.Report)
	}
	assertResumesOn(t, s.eu, "consumer-southamerica", "LH.ORDERS", kafkatest.ReadAll(t, s.na.Bootstrap(), "LH.ORDERS"), read)
}

// Terraform replaces a mirror whose tasks_max changes when the provider
// marks it RequiresReplace: DELETE, then PUT with the new value.
func TestAMirrorDeletedAndCreatedAgainWithFewerTasksCopiesNothingTwice(t *testing.T) {
	s, prod := replaceSetup(t)
	if code := s.agent.call("DELETE", "/v1/mirrors/na-to-eu", nil, nil); code != http.StatusNoContent {
		t.Fatalf("DELETE mirror: HTTP %d", code)
	}
	// The old offset syncs stay on europe and the mirror created again
	// resumes from them: they only fit the same source and target topics.
	s.agent.mustPut("/v1/clusters/south-america", agentapi.Cluster{BootstrapServers: s.na.Bootstrap()})
	otherSource, prefixed := storyMirror(2), storyMirror(2)
	otherSource.Source, prefixed.ReplicationPolicy = "south-america", agentapi.ReplicationPrefix
	for field, m := range map[string]agentapi.Mirror{"source": otherSource, "replication_policy": prefixed} {
		var e agentapi.Error
		code := s.agent.call("PUT", "/v1/mirrors/na-to-eu", m, &e)
		if code != http.StatusConflict || e.Error.Code != agentapi.CodeConflict || e.Error.Field != field || !strings.Contains(e.Error.Message, "give the new mirror another name") {
			t.Fatalf("PUT of the deleted mirror's name with another %s: HTTP %d %+v, want 409 naming %s and what to do", field, code, e.Error, field)
		}
	}
	s.agent.mustPut("/v1/mirrors/na-to-eu", storyMirror(2))
	prod.Produce(t, "LH.ORDERS", 6, 100)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 6, 600)

	n := assertSameRecords(t, s.na, s.eu, "LH.ORDERS", "LH.ORDERS")
	t.Logf("after the mirror was deleted and created again with 2 tasks: all %d records on europe exactly once", n)
	assertFailoverResumesExactly(t, s)
}

// tasks_max is a scaling knob: a PUT that turns it, down and up, while
// records flow, is stored as an update and copies nothing twice.
func TestChangingTasksMaxIsAnUpdateInPlaceThatCopiesNothingTwice(t *testing.T) {
	s, prod := replaceSetup(t)
	stop := backgroundProducer(t, prod, "LH.ORDERS", 6, 2000, 10, 20*time.Millisecond)
	for _, tasksMax := range []int{2, 5, 1} {
		before := mirroredSoFar(s.agent, "LH.ORDERS")
		var stored agentapi.Mirror
		if code := s.agent.call("PUT", "/v1/mirrors/na-to-eu", storyMirror(tasksMax), &stored); code != http.StatusOK || stored.TasksMax != tasksMax {
			t.Fatalf("PUT tasks_max %d: HTTP %d, stored %+v", tasksMax, code, stored)
		}
		kafkatest.Eventually(t, time.Minute, fmt.Sprintf("mirroring makes progress with %d tasks", tasksMax), func() (bool, string) {
			now := mirroredSoFar(s.agent, "LH.ORDERS")
			return now > before, fmt.Sprintf("%d mirrored", now)
		})
	}
	stop()
	want := map[string]map[int32]int64{"LH.ORDERS": {}}
	for p := int32(0); p < 6; p++ {
		want["LH.ORDERS"][p] = prod.Produced("LH.ORDERS", p)
	}
	waitMirrored(t, s.agent, want, 2*time.Minute)
	n := assertSameRecords(t, s.na, s.eu, "LH.ORDERS", "LH.ORDERS")
	t.Logf("tasks_max 4 -> 2 -> 5 -> 1 while records flowed: all %d records on europe exactly once", n)
	assertFailoverResumesExactly(t, s)
}

// Two agents share the tasks; one is frozen (SIGSTOP) mid-flight, keeping
// its open transactions, while tasks_max changes: the survivor's tasks of
// the new tasks_max fence the zombie's ids of the old one, and when it wakes
// nothing it tries to commit lands on the target.
func TestAZombieAgentOfTheOldTasksMaxIsFencedWhenTasksMaxChanges(t *testing.T) {
	s := newMirrorSetup(t)
	second := startAgentBeside(t, s.dst)
	const partitions = 6
	createTopicOn(t, s.src, "LH.ORDERS", partitions, nil)
	mirror := agentapi.Mirror{Source: "north-america", Target: "europe",
		Topics: agentapi.Selector{Include: []string{`LH\.ORDERS`}}, RefreshInterval: "1s", TasksMax: 4}
	s.agent.mustPut("/v1/mirrors/na-to-eu", mirror)
	prod := producerOf(t, s.src)
	stop := backgroundProducer(t, prod, "LH.ORDERS", partitions, 20000, 50, 20*time.Millisecond)
	waitBothAgentsRunTasks(t, second)

	s.agent.signal(t, syscall.SIGSTOP)
	mirror.TasksMax = 3
	second.mustPut("/v1/mirrors/na-to-eu", mirror)
	waitRunsEveryTask(t, second, partitions)
	s.agent.signal(t, syscall.SIGCONT)
	time.Sleep(3 * time.Second) // the zombie wakes while records still flow
	n := s.stopAndCompare(t, stop, prod, partitions, second)
	t.Logf("after the zombie of tasks_max 4 woke under tasks_max 3: all %d records exactly once", n)
}
