package main

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// outage is how long a cluster stays unreachable; KFO_TEST_OUTAGE (a Go
// duration) shortens or lengthens it.
func outage(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("KFO_TEST_OUTAGE")
	if v == "" {
		return 30 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("KFO_TEST_OUTAGE=%q: give a positive Go duration such as 30s", v)
	}
	return d
}

// The source, then the target (also the agent's state cluster), cannot be
// reached by the agent for 30 s while producers keep writing to the source:
// the agent's connections are cut at proxies the brokers advertise, and
// new ones refused. The status says the partitions are not copying while
// it lasts; after each return the agent copies again by itself, and the
// target holds every record exactly once.
func TestTheMirrorRecoversByItselfWhenTheSourceOrTheTargetIsUnreachable(t *testing.T) {
	devOnly(t, "the proxies the brokers advertise are dev clusters' (devcluster.Config.Advertise)")
	s := newMirrorSetupOf(t, kafkatest.Dev, kafkatest.ClusterOptions{Proxied: true})
	const partitions = 4
	prod, stop := s.copyOrders(t, partitions)

	lasting := outage(t)
	for _, side := range []struct {
		name string
		c    kafkatest.Kafka
	}{{"source", s.src}, {"target", s.dst}} {
		kafkatest.Eventually(t, time.Minute, "the status says every partition copies before the cut", func() (bool, string) {
			st := s.agent.status("na-to-eu")
			return st.PartitionsNotCopying == 0, strconv.Itoa(st.PartitionsNotCopying)
		})
		cut := side.c.(kafkatest.Cuttable)
		cut.Cut()
		cutAt := time.Now()
		t.Logf("injected: the %s unreachable for %s (connections closed, new ones refused)", side.name, lasting)
		kafkatest.Eventually(t, lasting, "the status says no partition is copying", func() (bool, string) {
			st := s.agent.status("na-to-eu")
			return st.PartitionsNotCopying == partitions, fmt.Sprintf("%d not copying since %v, state %s", st.PartitionsNotCopying, st.NotCopyingSince, st.State)
		})
		t.Logf("%s cut: the status says %d partitions not copying %s later", side.name, partitions, time.Since(cutAt).Round(time.Millisecond))
		time.Sleep(time.Until(cutAt.Add(lasting))) // the rest of the outage itself
		w := watchCopies(t, s.dst, "LH.ORDERS")
		cut.Restore()
		back := time.Now()
		w.waitFirst(t, 2*time.Minute, 0, 1, 2, 3)
		t.Logf("%s back: every partition copies again %s later", side.name, time.Since(back).Round(time.Millisecond))
		kafkatest.Eventually(t, time.Minute, "the status says every partition copies", func() (bool, string) {
			st := s.agent.status("na-to-eu")
			return st.PartitionsNotCopying == 0, strconv.Itoa(st.PartitionsNotCopying)
		})
	}
	n := s.stopAndCompare(t, stop, prod, partitions, s.agent)
	t.Logf("all %d records on the target exactly once, in order", n)
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
