package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// sessionTimeout is the --session-timeout every test agent runs with (see
// startAgentWith).
const sessionTimeout = 3 * time.Second

// copyWatch notes, per partition of a target topic, when the first record
// committed after the watch started arrived there.
type copyWatch struct {
	mu    sync.Mutex
	first map[int32]time.Time
}

// watchCopies starts a read_committed consumer of topic on c from its last
// stable offsets as they are now: every record it gets was committed later.
func watchCopies(t testing.TB, c kafkatest.Kafka, topic string) *copyWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stable, err := kadm.NewClient(kafkatest.ClientOf(t, c)).ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = stable.Error()
	}
	if err != nil {
		t.Fatalf("last stable offsets of %s: %v", topic, err)
	}
	from := map[int32]kgo.Offset{}
	stable.Each(func(o kadm.ListedOffset) { from[o.Partition] = kgo.NewOffset().At(o.Offset) })
	cl := kafkatest.ClientOf(t, c,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	w := &copyWatch{first: map[int32]time.Time{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fetches := cl.PollFetches(ctx)
			now := time.Now()
			fetches.EachPartition(func(p kgo.FetchTopicPartition) {
				w.mu.Lock()
				defer w.mu.Unlock()
				if _, seen := w.first[p.Partition]; !seen && len(p.Records) > 0 {
					w.first[p.Partition] = now
				}
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// waitFirst waits until every one of partitions has had a record since the
// watch started (any one when partitions is empty) and answers when the
// last of them had its first.
func (w *copyWatch) waitFirst(t testing.TB, timeout time.Duration, partitions ...int32) time.Time {
	t.Helper()
	var last time.Time
	kafkatest.Eventually(t, timeout, fmt.Sprintf("records copied to partitions %v", partitions), func() (bool, string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(partitions) == 0 {
			for _, at := range w.first {
				if last.IsZero() || at.Before(last) {
					last = at
				}
			}
			return !last.IsZero(), "no record yet"
		}
		last = time.Time{}
		for _, p := range partitions {
			at, ok := w.first[p]
			if !ok {
				return false, fmt.Sprintf("partition %d has no record yet; firsts %v", p, w.first)
			}
			if at.After(last) {
				last = at
			}
		}
		return true, ""
	})
	return last
}

// restartToFirstCopy kills the agent with SIGKILL and starts it again,
// cycles times, 0.6 s after each restart, while records arrive; it answers
// the time from the last restart until every partition had a record copied
// after it: all the agent's tasks run again.
func restartToFirstCopy(t testing.TB, s *mirrorSetup, partitions int32, cycles int) time.Duration {
	t.Helper()
	var restartedAt time.Time
	var w *copyWatch
	for cycle := 1; cycle <= cycles; cycle++ {
		if cycle > 1 {
			time.Sleep(600 * time.Millisecond)
		}
		s.agent.kill9()
		if cycle == cycles {
			w = watchCopies(t, s.dst, "LH.ORDERS")
		}
		restartedAt = time.Now()
		s.agent.start()
	}
	all := make([]int32, partitions)
	for p := range all {
		all[p] = int32(p)
	}
	return w.waitFirst(t, 2*time.Minute, all...).Sub(restartedAt)
}

// partitionsOf waits until two agents copy the partitions of LH.ORDERS, as
// other tells it, the same way for 2 s (no handover under way), and answers
// those agent a copies.
func partitionsOf(t testing.TB, a, other *agentProc, partitions int) []int32 {
	t.Helper()
	var mine []int32
	var last string
	var since time.Time
	kafkatest.Eventually(t, time.Minute, "both agents run tasks, each partition fresh in the status, for 2s", func() (bool, string) {
		mine = nil
		owners := map[string]int{}
		st := other.status("na-to-eu")
		for _, p := range st.Partitions {
			if time.Since(p.UpdatedAt) < 2*time.Second {
				owners[p.Agent]++
				if p.Agent == agentIDOf(a) {
					mine = append(mine, p.Partition)
				}
			}
		}
		slices.Sort(mine)
		now := fmt.Sprint(owners, mine)
		if len(owners) != 2 || len(st.Partitions) != partitions || st.PartitionsNotCopying != 0 || now != last {
			last, since = now, time.Now()
			return false, now
		}
		return time.Since(since) >= 2*time.Second, now
	})
	return mine
}

// lossToCopyElsewhere removes the first of two agents for good with remove
// (its kill9, or its stop: SIGTERM, a clean stop) and answers the time from
// the removal to the last of its partitions copying on the second. The
// watch starts once the removed process has ended, so that what its own
// last commits wrote is not taken for the second's.
func lossToCopyElsewhere(t testing.TB, s *mirrorSetup, second *agentProc, partitions int, remove func()) time.Duration {
	t.Helper()
	lost := partitionsOf(t, s.agent, second, partitions)
	lostAt := time.Now()
	remove()
	w := watchCopies(t, s.dst, "LH.ORDERS")
	return w.waitFirst(t, 2*time.Minute, lost...).Sub(lostAt)
}

// In the short set: static membership is the brokers' (KIP-345), so
// Apache Kafka is the judge.
func TestAnAgentRestartedThreeTimesCopiesAgainWithinFiveSeconds(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		s := newMirrorSetupOf(t, kind, kafkatest.ClusterOptions{})
		const partitions = 4
		prod, stop := s.copyOrders(t, partitions)

		// The agent's default session timeout: a restart must not wait
		// for its former self's session to end.
		s.agent.args = append(s.agent.args, "--session-timeout", "10s")
		d := restartToFirstCopy(t, s, partitions, 3)
		t.Logf("three SIGKILL-and-restart cycles 0.6 s apart: every partition copied again %s after the last restart", d.Round(time.Millisecond))
		if d > 5*time.Second {
			t.Errorf("the restarted agent copied every partition again %s after its restart, want under 5s", d.Round(time.Millisecond))
		}
		n := s.stopAndCompare(t, stop, prod, partitions, s.agent)
		t.Logf("all %d records on the target exactly once", n)
	})
}

func TestTheTasksOfAnAgentGoneForGoodCopyElsewhereWithinTheSessionTimeout(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		s := newMirrorSetupOf(t, kind, kafkatest.ClusterOptions{})
		second := startAgentBeside(t, s.dst)
		const partitions = 8
		kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", partitions, nil, s.src.ClientOpts()...)
		s.putMirror(t, `LH\.ORDERS`)
		prod := kafkatest.NewProducer(t, s.src.Bootstrap(), s.src.ClientOpts()...)
		stop := backgroundProducer(t, prod, "LH.ORDERS", partitions, 20000, 20, 20*time.Millisecond)

		d := lossToCopyElsewhere(t, s, second, partitions, s.agent.kill9)
		t.Logf("an agent lost for good: its partitions copy on the other %s later (session timeout %s)", d.Round(time.Millisecond), sessionTimeout)
		if limit := sessionTimeout + 5*time.Second; d > limit {
			t.Errorf("the lost agent's partitions copied elsewhere %s after its loss, want under %s", d.Round(time.Millisecond), limit)
		}
		n := s.stopAndCompare(t, stop, prod, partitions, second)
		t.Logf("all %d records on the target exactly once", n)
	})
}

func TestTheStatusAndMetricsSayHowManyPartitionsAreNotCopiedAndSinceWhen(t *testing.T) {
	s := newMirrorSetupOf(t, kafkatest.Dev, kafkatest.ClusterOptions{})
	// Lost, the first agent holds its tasks for 15 s: the window in which
	// nothing copies its partitions.
	s.agent.stop()
	s.agent.args = append(s.agent.args, "--session-timeout", "15s")
	s.agent.start()
	second := startAgentBeside(t, s.dst)
	const partitions = 6
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", partitions, nil, s.src.ClientOpts()...)
	s.putMirror(t, `LH\.ORDERS`)
	prod := kafkatest.NewProducer(t, s.src.Bootstrap(), s.src.ClientOpts()...)
	stop := backgroundProducer(t, prod, "LH.ORDERS", partitions, 20000, 20, 20*time.Millisecond)

	lost := partitionsOf(t, s.agent, second, partitions)
	lostAt := time.Now()
	s.agent.kill9()
	metric := func(name string) string {
		_, raw, _ := apiDo(t, second, "GET", "/metrics", "Bearer "+testToken, "")
		for line := range strings.Lines(string(raw)) {
			if rest, ok := strings.CutPrefix(line, name+`{mirror="na-to-eu"} `); ok {
				return strings.TrimSpace(rest)
			}
		}
		return ""
	}
	var st agentapi.MirrorStatus
	kafkatest.Eventually(t, 12*time.Second, "the status says the lost agent's partitions are not copied", func() (bool, string) {
		st = second.status("na-to-eu")
		return st.PartitionsNotCopying == len(lost), fmt.Sprintf("%d not copying since %v; lost %v", st.PartitionsNotCopying, st.NotCopyingSince, lost)
	})
	// Since the lost agent's last report, at most a few publications
	// before its loss.
	if since := lostAt.Sub(st.NotCopyingSince); since < 0 || since > 3*time.Second {
		t.Errorf("not copying since %v, %s before the loss; want its last report, within 3s before", st.NotCopyingSince, since)
	}
	kafkatest.Eventually(t, 5*time.Second, "the metrics say so too", func() (bool, string) {
		n, since := metric("kfo_mirror_partitions_not_copying"), metric("kfo_mirror_not_copying_since_timestamp_seconds")
		at, _ := strconv.ParseFloat(since, 64)
		return n == strconv.Itoa(len(lost)) && math.Abs(at-float64(st.NotCopyingSince.UnixMilli())/1000) < 0.01, n + " since " + since
	})
	t.Logf("after the loss: %d partitions not copying since %s before it", st.PartitionsNotCopying, lostAt.Sub(st.NotCopyingSince).Round(time.Millisecond))

	kafkatest.Eventually(t, 30*time.Second, "every partition copies again", func() (bool, string) {
		st = second.status("na-to-eu")
		n, since := metric("kfo_mirror_partitions_not_copying"), metric("kfo_mirror_not_copying_since_timestamp_seconds")
		return st.PartitionsNotCopying == 0 && st.NotCopyingSince.IsZero() && n == "0" && since == "0",
			fmt.Sprintf("status %d since %v, metrics %s since %s", st.PartitionsNotCopying, st.NotCopyingSince, n, since)
	})
	t.Logf("copying again %s after the loss", time.Since(lostAt).Round(time.Millisecond))
	s.stopAndCompare(t, stop, prod, partitions, second)
}

// BenchmarkRecoveryTime prints how long a mirror copies nothing, with two
// agent replicas on one state cluster at the default session timeout (10 s)
// on dev clusters, while a paced producer writes: from an agent's restart
// (three SIGKILL-and-restart cycles 0.6 s apart) to every partition copying
// again (goal: under 5 s); from a replica's removal to its partitions
// copying on the other, once by SIGKILL (goal: under the session timeout +
// 5 s) and, the replica back, once by a clean stop (SIGTERM: it leaves the
// task group). Then it reads every record on the source and the target
// read_committed and counts the records lost and those copied twice: any
// fails the benchmark.
func BenchmarkRecoveryTime(b *testing.B) {
	const session = "10s"
	for range b.N {
		s := newMirrorSetupOf(b, kafkatest.Dev, kafkatest.ClusterOptions{})
		s.agent.stop()
		s.agent.args = append(s.agent.args, "--session-timeout", session)
		s.agent.start()
		second := startAgentBeside(b, s.dst, "--session-timeout", session)
		const partitions = 8
		kafkatest.CreateTopic(b, s.src.Bootstrap(), "LH.ORDERS", partitions, nil, s.src.ClientOpts()...)
		s.putMirror(b, `LH\.ORDERS`)
		prod := kafkatest.NewProducer(b, s.src.Bootstrap(), s.src.ClientOpts()...)
		stop := backgroundProducer(b, prod, "LH.ORDERS", partitions, 20000, 20, 20*time.Millisecond)
		partitionsOf(b, s.agent, second, partitions)

		restart := restartToFirstCopy(b, s, partitions, 3)
		loss := lossToCopyElsewhere(b, s, second, partitions, s.agent.kill9)
		s.agent.start() // the replica is back, and rejoins the task group
		left := lossToCopyElsewhere(b, s, second, partitions, s.agent.stop)
		stopAndWaitMirrored(b, stop, prod, partitions, second)
		n, lost, twice := lostAndTwice(b, s.src, s.dst, "LH.ORDERS")
		b.ReportMetric(restart.Seconds(), "s-restart-to-copy")
		b.ReportMetric(loss.Seconds(), "s-loss-to-copy")
		b.ReportMetric(left.Seconds(), "s-clean-stop-to-copy")
		fmt.Printf("replica removal, 2 replicas on one state cluster, session timeout %s, %d partitions under a paced producer: every partition copies again %s after an agent's restart (goal < 5s); loss→copy: a replica killed (SIGKILL), its partitions copy on the other %s after (goal < %s + 5s); a replica stopped cleanly (SIGTERM), %s after; read_committed on the target: %d source records, %d lost, %d copied twice\n",
			session, partitions, restart.Round(time.Millisecond), loss.Round(time.Millisecond), session, left.Round(time.Millisecond), n, lost, twice)
		if lost != 0 || twice != 0 {
			b.Fatalf("after the replicas' removals: %d records lost and %d copied twice of %d", lost, twice, n)
		}
	}
}

// lostAndTwice reads topic on both clusters read_committed and counts, of the
// source's records, those the target lacks and the copies past the first
// (a target record no source record matches counts as one too).
func lostAndTwice(t testing.TB, srcC, dstC kafkatest.Kafka, topic string) (records, lost, twice int) {
	t.Helper()
	src := kafkatest.ReadAll(t, srcC.Bootstrap(), topic, srcC.ClientOpts()...)
	dst := kafkatest.ReadAll(t, dstC.Bootstrap(), topic, dstC.ClientOpts()...)
	for p, srs := range src {
		copies := map[string]int{}
		for _, r := range dst[p] {
			copies[string(r.Key)+"\x00"+string(r.Value)]++
		}
		for _, r := range srs {
			k := string(r.Key) + "\x00" + string(r.Value)
			switch n := copies[k]; n {
			case 0:
				lost++
			default:
				twice += n - 1
			}
			delete(copies, k)
		}
		for _, n := range copies {
			twice += n
		}
		records += len(srs)
	}
	return records, lost, twice
}

// The state cluster, here also the target, is lost for 5 s and comes back
// from its data dir while records arrive: the agent recovers by itself, its
// configuration, the group's checkpoint and the policy's epoch are as they
// were, and every record is on the target once.
func TestTheAgentRecoversByItselfWhenItsStateClusterRestarts(t *testing.T) {
	s := newMirrorSetupOf(t, kafkatest.Dev, kafkatest.ClusterOptions{})
	const partitions = 4
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", partitions, nil, s.src.ClientOpts()...)
	s.putGroupMirror(t)
	s.agent.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"}, Primary: "north-america",
		Mirrors: []string{"na-to-eu"}, Fencing: agentapi.FencingNone})
	prod := kafkatest.NewProducer(t, s.src.Bootstrap(), s.src.ClientOpts()...)
	prod.Produce(t, "LH.ORDERS", partitions, 10)
	consumeAndCommit(t, s.src.Bootstrap(), "consumer-a", "LH.ORDERS", map[int32]int{0: 5, 1: 6, 2: 7, 3: 8}, s.src.ClientOpts()...)
	before := waitSynced(t, s.agent, "consumer-a", partitions)
	var mirror, mirrorAfter agentapi.Mirror
	s.agent.call("GET", "/v1/mirrors/na-to-eu", nil, &mirror)
	var pol agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &pol)
	stop := backgroundProducer(t, prod, "LH.ORDERS", partitions, 20000, 20, 20*time.Millisecond)
	waitRunsEveryTask(t, s.agent, partitions)

	s.dst.Kill()
	t.Log("injected: the state cluster (also the target) killed for 5 s, then restarted from its data dir")
	time.Sleep(5 * time.Second) // the outage itself
	s.dst.Restart()

	w := watchCopies(t, s.dst, "LH.ORDERS")
	back := time.Now()
	w.waitFirst(t, 2*time.Minute, 0, 1, 2, 3)
	t.Logf("every partition copies again %s after the state cluster came back", time.Since(back).Round(time.Millisecond))
	s.agent.call("GET", "/v1/mirrors/na-to-eu", nil, &mirrorAfter)
	if was, is := mustJSON(t, mirror), mustJSON(t, mirrorAfter); was != is {
		t.Errorf("the mirror after the restart: %s, before: %s", is, was)
	}
	var polAfter agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &polAfter)
	if polAfter.Epoch != pol.Epoch || polAfter.Active != pol.Active {
		t.Errorf("the policy after the restart: epoch %d active %s; before: epoch %d active %s", polAfter.Epoch, polAfter.Active, pol.Epoch, pol.Active)
	}
	after := map[int32]int64{}
	for _, p := range waitSynced(t, s.agent, "consumer-a", partitions).Partitions {
		after[p.Partition] = p.TargetOffset
	}
	for _, p := range before.Partitions {
		if after[p.Partition] != p.TargetOffset {
			t.Errorf("checkpoint of consumer-a[%d] after the restart: target offset %d, before: %d", p.Partition, after[p.Partition], p.TargetOffset)
		}
	}
	n := s.stopAndCompare(t, stop, prod, partitions, s.agent)
	t.Logf("all %d records on the target exactly once", n)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := jsonRoundTrip(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
