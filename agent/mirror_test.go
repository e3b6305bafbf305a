package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// recordsPerPartition scales the big mirror test; KFO_TEST_RECORDS_PER_PARTITION overrides it.
func recordsPerPartition(t *testing.T, def int) int {
	if v := os.Getenv("KFO_TEST_RECORDS_PER_PARTITION"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("KFO_TEST_RECORDS_PER_PARTITION=%q: %v", v, err)
		}
		return n
	}
	return def
}

type mirrorSetup struct {
	src, dst kafkatest.Kafka
	state    kafkatest.Kafka // the agent's state cluster
	agent    *agentProc
}

// newMirrorSetup starts a source and a target cluster of the kind
// KFO_TEST_KAFKA selects, taking SASL_SSL only, and an agent beside the
// target that uses SASL_SSL on all three connections (source, target,
// state), and declares both clusters.
func newMirrorSetup(t *testing.T) *mirrorSetup {
	t.Helper()
	return newMirrorSetupOf(t, kafkatest.Kind(), kafkatest.ClusterOptions{Secure: true})
}

// newMirrorSetupOf is newMirrorSetup with clusters of kind, shaped by opts.
func newMirrorSetupOf(t testing.TB, kind string, opts kafkatest.ClusterOptions) *mirrorSetup {
	t.Helper()
	s := &mirrorSetup{
		src: kafkatest.NewClusterOfKind(t, kind, "north-america", opts),
		dst: kafkatest.NewClusterOfKind(t, kind, "europe", opts),
	}
	s.state = s.dst
	s.agent = startAgentBeside(t, s.state)
	s.agent.declare("north-america", s.src)
	s.agent.declare("europe", s.dst)
	return s
}

// newPlaintextMirrorSetup is newMirrorSetup for a test that reads with kcat,
// which cannot authenticate to secure clusters (see kafkatest.KcatArgs).
func newPlaintextMirrorSetup(t *testing.T, kind string) *mirrorSetup {
	t.Helper()
	return newMirrorSetupOf(t, kind, kafkatest.ClusterOptions{})
}

func (s *mirrorSetup) putMirror(t testing.TB, include ...string) {
	t.Helper()
	s.agent.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{
		Source: "north-america", Target: "europe",
		Topics:          agentapi.Selector{Include: include},
		RefreshInterval: "1s",
	})
}

// waitMirrored waits until the status says every partition of each topic
// has copied everything up to want[topic][partition] records.
func waitMirrored(t testing.TB, a *agentProc, want map[string]map[int32]int64, timeout time.Duration) {
	t.Helper()
	kafkatest.Eventually(t, timeout, "mirror caught up", func() (bool, string) {
		st := a.status("na-to-eu")
		got := map[string]map[int32]int64{}
		for _, p := range st.Partitions {
			if got[p.Topic] == nil {
				got[p.Topic] = map[int32]int64{}
			}
			got[p.Topic][p.Partition] = p.LastMirroredOffset + 1
		}
		for topic, parts := range want {
			for p, n := range parts {
				if got[topic][p] < n {
					return false, fmt.Sprintf("%s[%d] at %d of %d (state %s)", topic, p, got[topic][p], n, st.State)
				}
			}
		}
		return true, ""
	})
}

// assertSameRecords reads both sides and compares them record by record:
// same partition, same order, same key, value, headers and timestamp; no
// record missing, none twice.
func assertSameRecords(t testing.TB, srcC, dstC kafkatest.Kafka, topic, targetTopic string) int {
	t.Helper()
	src := kafkatest.ReadAll(t, srcC.Bootstrap(), topic, srcC.ClientOpts()...)
	dst := kafkatest.ReadAll(t, dstC.Bootstrap(), targetTopic, dstC.ClientOpts()...)
	if len(src) != len(dst) {
		t.Fatalf("%s: source has %d partitions, target %s has %d", topic, len(src), targetTopic, len(dst))
	}
	total := 0
	for p, srs := range src {
		drs := dst[p]
		if len(srs) != len(drs) {
			t.Fatalf("%s[%d]: source has %d records, target has %d (%s)", topic, p, len(srs), len(drs), kafkatest.Sprint(dst))
		}
		for i := range srs {
			if !srs[i].Equal(drs[i]) {
				t.Fatalf("%s[%d] record %d: source %q/%q@%v, target %q/%q@%v", topic, p, i, srs[i].Key, srs[i].Value, srs[i].Timestamp, drs[i].Key, drs[i].Value, drs[i].Timestamp)
			}
		}
		total += len(srs)
	}
	return total
}

func TestMirrorCopiesEveryRecordOnceWithKeysHeadersAndTimestamps(t *testing.T) {
	s := newPlaintextMirrorSetup(t, kafkatest.Kind())
	src, srcOpts := s.src.Bootstrap(), s.src.ClientOpts()
	n := recordsPerPartition(t, 100000) // 3 topics x 6 partitions x 100k records
	topics := []string{"LH.ORDERS", "LH.CANCELLATIONS", "LH.STOCK"}
	for _, topic := range topics {
		kafkatest.CreateTopic(t, src, topic, 6, nil, srcOpts...)
	}
	kafkatest.CreateTopic(t, src, "OTHER.TOPIC", 2, nil, srcOpts...) // not matched
	prod := kafkatest.NewProducer(t, src, srcOpts...)
	for _, topic := range topics {
		prod.Produce(t, topic, 6, n/2)
	}
	s.putMirror(t, `LH\..*`)
	for _, topic := range topics {
		prod.Produce(t, topic, 6, n-n/2) // while mirroring
	}
	want := map[string]map[int32]int64{}
	for _, topic := range topics {
		want[topic] = map[int32]int64{}
		for p := int32(0); p < 6; p++ {
			want[topic][p] = int64(n)
		}
	}
	start := time.Now()
	waitMirrored(t, s.agent, want, 5*time.Minute)
	t.Logf("mirrored %d records in %s after the last produce", 3*6*n, time.Since(start).Round(time.Millisecond))

	// A topic created and a partition added while mirroring are picked
	// up within refresh_interval.
	kafkatest.CreateTopic(t, src, "LH.NEW", 3, nil, srcOpts...)
	prod.Produce(t, "LH.NEW", 3, 500)
	kafkatest.AddPartitions(t, src, "LH.ORDERS", 2, srcOpts...)
	prod.Reconnect(t, src, srcOpts...)
	prod.Produce(t, "LH.ORDERS", 8, 500)
	want["LH.NEW"] = map[int32]int64{0: 500, 1: 500, 2: 500}
	for p := int32(0); p < 8; p++ {
		want["LH.ORDERS"][p] = int64(n + 500)
	}
	want["LH.ORDERS"][6], want["LH.ORDERS"][7] = 500, 500
	waitMirrored(t, s.agent, want, 2*time.Minute)

	total := 0
	for _, topic := range append(topics, "LH.NEW") {
		total += assertSameRecords(t, s.src, s.dst, topic, topic)
	}
	t.Logf("compared %d records one by one", total)
	if kafkatest.TopicExists(t, s.dst.Bootstrap(), "OTHER.TOPIC", s.dst.ClientOpts()...) {
		t.Fatalf("OTHER.TOPIC does not match LH\\..* but exists on the target")
	}
	for _, p := range s.agent.status("na-to-eu").Partitions {
		if strings.HasPrefix(p.Topic, "__") || !strings.HasPrefix(p.Topic, "LH.") {
			t.Fatalf("the mirror copies %s, which it must not", p.Topic)
		}
	}

	// kcat, an independent client (librdkafka), reads the mirrored data.
	kcatMatches(t, s.src, s.dst, "LH.ORDERS", 7)
}

// kcatMatches reads one partition on both sides with kcat and compares keys,
// values, timestamps and headers.
func kcatMatches(t *testing.T, srcC, dstC kafkatest.Kafka, topic string, partition int) {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatalf("kcat is not installed: run scripts/ensure-tools.sh (make test does)")
	}
	read := func(c kafkatest.Kafka) string {
		args := append(kafkatest.KcatArgs(t, c), "-C", "-t", topic, "-p", strconv.Itoa(partition), "-o", "beginning", "-e", "-q",
			"-X", "isolation.level=read_committed", "-f", "%k|%s|%T|%h\n")
		out, err := exec.Command("kcat", args...).Output()
		if err != nil {
			t.Fatalf("kcat -b %s -t %s: %v %s", c.Bootstrap(), topic, err, stderrOf(err))
		}
		return string(out)
	}
	src, dst := read(srcC), read(dstC)
	lines := strings.Count(dst, "\n")
	if lines == 0 || src != dst {
		t.Fatalf("kcat reads %d lines on the target, and they differ from the source:\nsource: %.300s\ntarget: %.300s", lines, src, dst)
	}
	t.Logf("kcat read %d identical records from %s[%d] on both clusters", lines, topic, partition)
}

// stderrOf answers what a command that failed wrote to stderr.
func stderrOf(err error) string {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(exit.Stderr)
	}
	return ""
}
