package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// outage is how long a cluster stays unreachable: 10 s in make test's
// short form, the 30 s in make soak (KFO_SOAK=1); KFO_TEST_OUTAGE
// (a Go duration) sets it.
func outage(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("KFO_TEST_OUTAGE")
	if v == "" && os.Getenv("KFO_SOAK") != "" {
		return 30 * time.Second
	}
	if v == "" {
		return 10 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("KFO_TEST_OUTAGE=%q: give a positive Go duration such as 30s", v)
	}
	return d
}

// saysNotCopyingWithin bounds how long the status may still count a cut
// cluster's partitions as copying: a task notices 5 s of silence, and the
// replicas publish every second.
const saysNotCopyingWithin = 15 * time.Second

// The source, then the target (also the agent's state cluster), cannot be
// reached by the agent for 30 s while producers keep writing to the source:
// the agent's connections are cut at proxies the brokers advertise, and
// new ones refused. The status says the partitions are not copying while
// it lasts; after each return the agent copies again by itself, and the
// target holds every record exactly once.
//
// In the short set: about 80 s on Apache Kafka, whose nodes replicate and
// write transaction markers on a listener of their own, never cut.
func TestTheMirrorRecoversByItselfWhenTheSourceOrTheTargetIsUnreachable(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		s := newMirrorSetupOf(t, kind, kafkatest.ClusterOptions{Proxied: true})
		const partitions = 4
		prod, stop := s.copyOrders(t, partitions)
		lasting := outage(t)
		s.cutFor(t, "source", s.src, partitions, lasting)
		s.cutFor(t, "target", s.dst, partitions, lasting)
		n := s.stopAndCompare(t, stop, prod, partitions, s.agent)
		t.Logf("all %d records on the target exactly once, in order", n)
	})
}

// The target is unreachable for 30 s while the agent's state cluster, a
// third cluster, stays up: the status is still published, and it must say
// within seconds that the partitions copy nothing and why, although the
// tasks only wait for their produce and commit to be answered. When the
// target returns, the tasks finish their transactions, and the target
// holds every record exactly once.
func TestATargetApartFromTheStateClusterUnreachableCountsAsNotCopying(t *testing.T) {
	proxied := kafkatest.ClusterOptions{Proxied: true}
	s := &mirrorSetup{
		src: kafkatest.NewCluster(t, "north-america", proxied),
		dst: kafkatest.NewCluster(t, "europe", proxied),
	}
	s.state = kafkatest.NewCluster(t, "state", kafkatest.ClusterOptions{})
	s.agent = startAgentBeside(t, s.state)
	s.agent.declare("north-america", s.src)
	s.agent.declare("europe", s.dst)
	const partitions = 4
	prod, stop := s.copyOrders(t, partitions)
	s.cutFor(t, "target", s.dst, partitions, outage(t))
	n := s.stopAndCompare(t, stop, prod, partitions, s.agent)
	t.Logf("all %d records on the target exactly once, in order", n)
}

// cutFor makes c, the mirror's source or target, unreachable for lasting:
// the status must say within saysNotCopyingWithin that no partition copies
// and name the cut side in each partition's error, unless the side is the
// state cluster, whose status nobody publishes meanwhile. After the
// return every partition copies again by itself.
func (s *mirrorSetup) cutFor(t *testing.T, side string, c kafkatest.Kafka, partitions int, lasting time.Duration) {
	t.Helper()
	kafkatest.Eventually(t, time.Minute, "the status says every partition copies before the cut", func() (bool, string) {
		st := s.agent.status("na-to-eu")
		return st.PartitionsNotCopying == 0, strconv.Itoa(st.PartitionsNotCopying)
	})
	cut := c.(kafkatest.Cuttable)
	cut.Cut()
	cutAt := time.Now()
	t.Logf("injected: the %s unreachable for %s (connections closed, new ones refused)", side, lasting)
	kafkatest.Eventually(t, min(lasting, saysNotCopyingWithin), "the status says no partition is copying", func() (bool, string) {
		st := s.agent.status("na-to-eu")
		if st.PartitionsNotCopying != partitions {
			return false, fmt.Sprintf("%d not copying since %v, state %s", st.PartitionsNotCopying, st.NotCopyingSince, st.State)
		}
		for _, p := range st.Partitions {
			if c != s.state && !strings.Contains(p.Error, side) {
				return false, fmt.Sprintf("%s[%d] error %q does not name the %s", p.Topic, p.Partition, p.Error, side)
			}
		}
		return true, ""
	})
	st := s.agent.status("na-to-eu")
	why := "(no partition status published)"
	if len(st.Partitions) > 0 {
		why = st.Partitions[0].Error
	}
	t.Logf("%s cut: the status says %d partitions not copying %s later: %s", side, partitions, time.Since(cutAt).Round(time.Millisecond), why)
	time.Sleep(time.Until(cutAt.Add(lasting))) // the rest of the outage itself
	w := watchCopies(t, s.dst, "LH.ORDERS")
	cut.Restore()
	back := time.Now()
	w.waitFirst(t, 2*time.Minute, 0, 1, 2, 3)
	t.Logf("%s back: every partition copies again %s later", side, time.Since(back).Round(time.Millisecond))
	kafkatest.Eventually(t, time.Minute, "the status says every partition copies", func() (bool, string) {
		st := s.agent.status("na-to-eu")
		return st.PartitionsNotCopying == 0, strconv.Itoa(st.PartitionsNotCopying)
	})
}

// copyOrders creates LH.ORDERS with partitions on the source, mirrors it,
// starts a background producer and waits until every partition copies.
func (s *mirrorSetup) copyOrders(t *testing.T, partitions int32) (*kafkatest.Producer, func()) {
	t.Helper()
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.ORDERS", partitions, nil, s.src.ClientOpts()...)
	s.putMirror(t, `LH\.ORDERS`)
	prod := kafkatest.NewProducer(t, s.src.Bootstrap(), s.src.ClientOpts()...)
	stop := backgroundProducer(t, prod, "LH.ORDERS", partitions, 20000, 20, 20*time.Millisecond)
	waitRunsEveryTask(t, s.agent, int(partitions))
	return prod, stop
}
