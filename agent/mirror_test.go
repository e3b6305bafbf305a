package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
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
	src, dst *devcluster.Cluster
	agent    *agentProc
}

// newMirrorSetup starts a source and a target cluster and an agent beside the
// target, and declares both clusters.
func newMirrorSetup(t *testing.T) *mirrorSetup {
	t.Helper()
	s := &mirrorSetup{src: kafkatest.Cluster(t, "north-america"), dst: kafkatest.Cluster(t, "europe")}
	s.agent = startAgent(t, s.dst.BootstrapString())
	s.agent.mustPut("/v1/clusters/north-america", agentapi.Cluster{BootstrapServers: s.src.Bootstrap()})
	s.agent.mustPut("/v1/clusters/europe", agentapi.Cluster{BootstrapServers: s.dst.Bootstrap()})
	return s
}

func (s *mirrorSetup) putMirror(t *testing.T, include ...string) {
	t.Helper()
	s.agent.mustPut("/v1/mirrors/na-to-eu", agentapi.Mirror{
		Source: "north-america", Target: "europe",
		Topics:          agentapi.Selector{Include: include},
		RefreshInterval: "1s",
	})
}

// waitMirrored waits until the status says every partition of each topic
// has copied everything up to want[topic][partition] records.
func waitMirrored(t *testing.T, a *agentProc, want map[string]map[int32]int64, timeout time.Duration) {
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
func assertSameRecords(t *testing.T, srcBoot, dstBoot []string, topic, targetTopic string) int {
	t.Helper()
	return assertSameRecordsWith(t, srcBoot, nil, dstBoot, nil, topic, targetTopic)
}

// assertSameRecordsWith is assertSameRecords for clusters that need client
// options, such as TLS and SASL.
func assertSameRecordsWith(t *testing.T, srcBoot []string, srcOpts []kgo.Opt, dstBoot []string, dstOpts []kgo.Opt, topic, targetTopic string) int {
	t.Helper()
	src := kafkatest.ReadAll(t, srcBoot, topic, srcOpts...)
	dst := kafkatest.ReadAll(t, dstBoot, targetTopic, dstOpts...)
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
	s := newMirrorSetup(t)
	n := recordsPerPartition(t, 100000) // 3 topics x 6 partitions x 100k records
	topics := []string{"LH.ORDERS", "LH.CANCELLATIONS", "LH.STOCK"}
	for _, topic := range topics {
		kafkatest.CreateTopic(t, s.src.Bootstrap(), topic, 6, nil)
	}
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "OTHER.TOPIC", 2, nil) // not matched
	prod := kafkatest.NewProducer(t, s.src.Bootstrap())
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
	kafkatest.CreateTopic(t, s.src.Bootstrap(), "LH.NEW", 3, nil)
	prod.Produce(t, "LH.NEW", 3, 500)
	kafkatest.AddPartitions(t, s.src.Bootstrap(), "LH.ORDERS", 2)
	prod.Reconnect(t, s.src.Bootstrap())
	prod.Produce(t, "LH.ORDERS", 8, 500)
	want["LH.NEW"] = map[int32]int64{0: 500, 1: 500, 2: 500}
	for p := int32(0); p < 8; p++ {
		want["LH.ORDERS"][p] = int64(n + 500)
	}
	want["LH.ORDERS"][6], want["LH.ORDERS"][7] = 500, 500
	waitMirrored(t, s.agent, want, 2*time.Minute)

	total := 0
	for _, topic := range append(topics, "LH.NEW") {
		total += assertSameRecords(t, s.src.Bootstrap(), s.dst.Bootstrap(), topic, topic)
	}
	t.Logf("compared %d records one by one", total)
	if kafkatest.TopicExists(t, s.dst.Bootstrap(), "OTHER.TOPIC") {
		t.Fatalf("OTHER.TOPIC does not match LH\\..* but exists on the target")
	}
	for _, p := range s.agent.status("na-to-eu").Partitions {
		if strings.HasPrefix(p.Topic, "__") || !strings.HasPrefix(p.Topic, "LH.") {
			t.Fatalf("the mirror copies %s, which it must not", p.Topic)
		}
	}

	// kcat, an independent client (librdkafka), reads the mirrored data.
	kcatMatches(t, s.src.BootstrapString(), s.dst.BootstrapString(), "LH.ORDERS", 7)
}

// kcatMatches reads one partition on both sides with kcat and compares keys,
// values, timestamps and headers.
func kcatMatches(t *testing.T, srcBoot, dstBoot, topic string, partition int) {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatalf("kcat is not installed: run scripts/ensure-tools.sh (make test does)")
	}
	read := func(boot string) string {
		out, err := exec.Command("kcat", "-C", "-b", boot, "-t", topic, "-p", strconv.Itoa(partition), "-o", "beginning", "-e", "-q",
			"-X", "isolation.level=read_committed", "-f", "%k|%s|%T|%h\n").Output()
		if err != nil {
			t.Fatalf("kcat -b %s -t %s: %v", boot, topic, err)
		}
		return string(out)
	}
	src, dst := read(srcBoot), read(dstBoot)
	lines := strings.Count(dst, "\n")
	if lines == 0 || src != dst {
		t.Fatalf("kcat reads %d lines on the target, and they differ from the source:\nsource: %.300s\ntarget: %.300s", lines, src, dst)
	}
	t.Logf("kcat read %d identical records from %s[%d] on both clusters", lines, topic, partition)
}
