package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// brokerFault is one error injected by a dev cluster's kfake: every nth
// request that matches, count times in all.
type brokerFault struct {
	side   string // "source" or "target"
	fault  kfake.Fault
	every  int
	handle *kfake.FaultHandle
}

func (f *brokerFault) String() string {
	var keys []string
	for _, k := range f.fault.Keys {
		keys = append(keys, k.Name())
	}
	what := f.fault.Topic + f.fault.Group
	if what == "" {
		what = "the mirror's transactional ids"
	}
	return fmt.Sprintf("%s %s on %s: %s, every %d request, %d times", f.side, strings.Join(keys, "+"), what, f.fault.Err.Message, f.every, f.fault.Count)
}

// everyNth answers a Fault.When that accepts every nth request that reaches
// it and filters by match first. kfake asks once per entity of a request
// (each partition of a fetch): the answer is kept for the request.
func everyNth(n int, match func(kmsg.Request) bool) func(kmsg.Request) bool {
	var mu sync.Mutex
	var last kmsg.Request
	var seen int
	var answer bool
	return func(req kmsg.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if req == last {
			return answer
		}
		last = req
		if match != nil && !match(req) {
			answer = false
			return false
		}
		seen++
		answer = seen%n == 0
		return answer
	}
}

// mirrorTxn matches requests of the mirror na-to-eu's task producers, and
// leaves alone those of the agent's other writers on the same cluster.
func mirrorTxn(req kmsg.Request) bool {
	var id string
	switch r := req.(type) {
	case *kmsg.InitProducerIDRequest:
		if r.TransactionalID != nil {
			id = *r.TransactionalID
		}
	case *kmsg.AddPartitionsToTxnRequest:
		id = r.TransactionalID
	case *kmsg.EndTxnRequest:
		id = r.TransactionalID
	}
	return strings.HasPrefix(id, "__kfo_mirror.na-to-eu.task-")
}

// taskFetch matches the fetches of the mirror's tasks, which wait briefly
// (FetchMaxWait), and leaves alone the test's own readers, which wait long.
func taskFetch(req kmsg.Request) bool {
	r, ok := req.(*kmsg.FetchRequest)
	// A task's fetch waits at most its commit window (50 ms) when the
	// source has nothing; the test's own clients wait franz-go's 5 s.
	return ok && r.MaxWaitMillis <= 100
}

// checkpointerFetch matches the checkpointer's reads of group offsets
// (kadm, not stable), and leaves alone the test's group member, which asks
// for stable offsets when it joins.
func checkpointerFetch(req kmsg.Request) bool {
	r, ok := req.(*kmsg.OffsetFetchRequest)
	return ok && !r.RequireStable
}

// Broker errors on both sides while the mirror copies and checkpoints: the
// retriable ones that franz-go retries, and on EndTxn ones that fail the
// commit so that the task restarts, fences its old producer and resumes
// from its last committed offset sync. Afterwards every record is on the
// target exactly once and the group's offsets are committed there.
// The task producers send no AddPartitionsToTxn (the test checks): with
// transactions V2 (KIP-890), which franz-go and both kinds of cluster
// speak, a partition joins the transaction with its first produce request,
// whose errors are injected instead. The mirror sends neither
// AddOffsetsToTxn nor TxnOffsetCommit: its progress is the offset syncs,
// records in the same transaction.
func TestMirrorLosesAndDuplicatesNothingUnderInjectedBrokerErrors(t *testing.T) {
	devOnly(t, "the errors are injected by kfake's fault hooks, which Apache Kafka lacks")
	s := newMirrorSetupOf(t, kafkatest.Dev, kafkatest.ClusterOptions{})
	src, dst := s.src.(kafkatest.InProcess).Dev(), s.dst.(kafkatest.InProcess).Dev()
	const partitions = 4
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", partitions, nil, s.src.ClientOpts()...)
	s.putGroupMirror(t)
	waitRunsEveryTask(t, s.agent, partitions)

	syncs := offsetsync.Topic("na-to-eu")
	faults := []*brokerFault{
		{side: "source", every: 5, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "LH.ORDERS", Err: kerr.NotLeaderForPartition, Count: 10}},
		{side: "source", every: 3, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "LH.ORDERS", Err: kerr.UnknownTopicOrPartition, Count: 5}},
		{side: "source", every: 1, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "consumer-a", Err: kerr.CoordinatorLoadInProgress, Count: 3}},
		{side: "target", every: 4, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "LH.ORDERS", Err: kerr.NotLeaderForPartition, Count: 10}},
		// Answered after the broker appended the batch: the retry must
		// not write it twice.
		{side: "target", every: 7, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "LH.ORDERS", Err: kerr.RequestTimedOut, Count: 5}},
		{side: "target", every: 5, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: syncs, Err: kerr.NotLeaderForPartition, Count: 5}},
		{side: "target", every: 3, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.ConcurrentTransactions, Count: 5}},
		{side: "target", every: 4, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.CoordinatorLoadInProgress, Count: 3}},
		// Not retriable: the commit fails, the task restarts.
		{side: "target", every: 6, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.UnknownServerError, Count: 3}},
		{side: "target", every: 8, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.InvalidTxnState, Count: 2}},
		// Each restart initializes its producer id again.
		{side: "target", every: 1, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.InitProducerID}, Err: kerr.CoordinatorLoadInProgress, Count: 3}},
		{side: "target", every: 1, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.InitProducerID}, Err: kerr.ConcurrentTransactions, Count: 2}},
		{side: "target", every: 1, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: "consumer-a", Err: kerr.NotCoordinator, Count: 2}},
		{side: "target", every: 1, fault: kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Group: "consumer-a", Err: kerr.RequestTimedOut, Count: 2}},
	}
	for _, f := range faults {
		var match func(kmsg.Request) bool
		switch f.fault.Keys[0] {
		case kmsg.Fetch:
			match = taskFetch
		case kmsg.OffsetFetch:
			match = checkpointerFetch
		case kmsg.InitProducerID, kmsg.AddPartitionsToTxn, kmsg.EndTxn:
			match = mirrorTxn
		}
		f.fault.When = everyNth(f.every, match)
		c := dst
		if f.side == "source" {
			c = src
		}
		f.handle = c.Fault(f.fault)
		t.Logf("injected: %s", f)
	}

	addPartitions := dst.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.AddPartitionsToTxn}, Count: -1, Observe: true})

	prod := kafkatest.NewProducer(t, s.src.Bootstrap(), s.src.ClientOpts()...)
	stop := backgroundProducer(t, prod, "LH.ORDERS", partitions, 20000, 20, 20*time.Millisecond)
	for round := 1; ; round++ {
		// The group moves on 50 records a partition, so that the
		// checkpointer reads and commits its offsets while the faults last.
		consumeAndCommit(t, s.src.Bootstrap(), "consumer-a", "LH.ORDERS", map[int32]int{0: 50, 1: 50, 2: 50, 3: 50}, s.src.ClientOpts()...)
		left := 0
		for _, f := range faults {
			if f.handle.Hits() < f.fault.Count {
				left++
			}
		}
		if left == 0 {
			break
		}
		if round == 60 {
			var state []string
			for _, f := range faults {
				state = append(state, fmt.Sprintf("%s: %d hits", f, f.handle.Hits()))
			}
			t.Fatalf("after %d rounds, %d faults were not all answered:\n%s", round, left, strings.Join(state, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	total := 0
	for _, f := range faults {
		total += f.handle.Hits()
	}
	t.Logf("all %d injected errors answered; AddPartitionsToTxn requests sent: %d", total, addPartitions.Hits())
	if addPartitions.Hits() != 0 {
		t.Errorf("the tasks sent %d AddPartitionsToTxn requests: inject errors into them too", addPartitions.Hits())
	}

	n := s.stopAndCompare(t, stop, prod, partitions, s.agent)
	t.Logf("all %d records on the target exactly once, in order", n)
	// The group's offsets reach the target in spite of the refused
	// fetches and commits, translated: on the target the group stands
	// before the same record as on the source, whose offsets have no gaps
	// (the target's hold transaction markers and aborted records).
	source := groupOffsets(t, s.src, "consumer-a")
	copies := kafkatest.ReadAll(t, s.dst.Bootstrap(), "LH.ORDERS", s.dst.ClientOpts()...)
	kafkatest.Eventually(t, 30*time.Second, "consumer-a's offsets on the target", func() (bool, string) {
		target := groupOffsets(t, s.dst, "consumer-a")
		for p, at := range source {
			recs := copies[p]
			if before := sort.Search(len(recs), func(i int) bool { return recs[i].Offset >= target[p] }); int64(before) != at {
				return false, fmt.Sprintf("LH.ORDERS[%d]: source at %d, target at %d, which is after %d records", p, at, target[p], before)
			}
		}
		return true, ""
	})
	t.Logf("consumer-a stands on the target where it stands on the source: %v", source)
	logs, err := os.ReadFile(s.agent.logPath)
	if err != nil {
		t.Fatal(err)
	}
	restarts := strings.Count(string(logs), "mirror task failed; restarting")
	if restarts == 0 {
		t.Error("no task restarted, though EndTxn failed with errors a commit cannot retry")
	}
	t.Logf("tasks restarted %d times by themselves", restarts)
}

// groupOffsets answers the committed offsets of group on c, per partition
// of LH.ORDERS.
func groupOffsets(t *testing.T, c kafkatest.Kafka, group string) map[int32]int64 {
	t.Helper()
	fetched, err := kadm.NewClient(kafkatest.ClientOf(t, c)).FetchOffsets(context.Background(), group)
	if err == nil {
		err = fetched.Error()
	}
	if err != nil {
		t.Fatalf("offsets of %s on %s: %v", group, c.Declared().Name, err)
	}
	out := map[int32]int64{}
	fetched.Each(func(o kadm.OffsetResponse) {
		if o.Topic == "LH.ORDERS" {
			out[o.Partition] = o.At
		}
	})
	return out
}
