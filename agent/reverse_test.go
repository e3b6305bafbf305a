package main

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// endOffsets answers the end offset of each partition of a topic: after a
// rebuild a cluster's offsets also count the mirror's transaction markers.
func endOffsets(t *testing.T, bootstrap []string, topic string) map[int32]int64 {
	t.Helper()
	ends, err := kadm.NewClient(kafkatest.Client(t, bootstrap)).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// divergence is one loss of north-america: the records it held that europe
// never got, and the forced failover's answer.
type divergence struct {
	tail  map[int32][]kafkatest.Record // per partition, with north-america's offsets
	lost  int64
	epoch int64
}

// loseNorthAmerica makes north-america diverge: each partition gets a record
// europe refuses, so that the mirror stalls before it, then n more; the
// region is lost and europe is made active by a forced failover.
func (s *failoverSetup) loseNorthAmerica(t *testing.T, n int, requestID string) divergence {
	t.Helper()
	ctx := context.Background()
	big := kafkatest.Client(t, s.na.Bootstrap(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 3; p++ {
		r := kafkatest.GenRecord("LH.ORDERS", p, 90_000)
		r.Value = make([]byte, 300_000)
		_, _ = crand.Read(r.Value) // incompressible
		if err := big.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 3, n)
	ends := endOffsets(t, s.na.Bootstrap(), "LH.ORDERS")
	kafkatest.Eventually(t, 30*time.Second, "the agent has seen north-america's last high watermarks", func() (bool, string) {
		seen := map[int32]int64{}
		for _, p := range s.agent.status("na-to-eu").Partitions {
			seen[p.Partition] = p.SourceHighWatermark
		}
		return fmt.Sprint(seen) == fmt.Sprint(ends), fmt.Sprintf("seen %v, ends %v", seen, ends)
	})
	// Both clusters hold the same records up to the tail: it is what
	// north-america holds past europe's last record.
	onNA := kafkatest.ReadAll(t, s.na.Bootstrap(), "LH.ORDERS")
	onEU := kafkatest.ReadAll(t, s.eu.Bootstrap(), "LH.ORDERS")
	d := divergence{tail: map[int32][]kafkatest.Record{}}
	var truth int64
	for p := int32(0); p < 3; p++ {
		for i := range onEU[p] {
			if !onEU[p][i].Equal(onNA[p][i]) {
				t.Fatalf("LH.ORDERS[%d] record %d differs between the clusters before the loss: the setup is wrong", p, i)
			}
		}
		d.tail[p] = onNA[p][len(onEU[p]):]
		if len(d.tail[p]) != n+1 {
			t.Fatalf("north-america's LH.ORDERS[%d] holds a tail of %d records, want %d: the setup is wrong", p, len(d.tail[p]), n+1)
		}
		truth += int64(len(d.tail[p]))
	}

	s.na.Kill()
	t.Logf("north-america killed with a tail of %d records; forced failover %s to europe", truth, requestID)
	code, res, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: requestID})
	if code != 200 {
		t.Fatalf("forced failover: HTTP %d %+v", code, e.Error)
	}
	if res.Report == nil || res.Report.RecordsLost != truth {
		t.Fatalf("forced failover %s reports %+v records lost; truly %d", requestID, res.Report, truth)
	}
	d.lost, d.epoch = truth, res.Epoch
	return d
}

// reverseNorthAmerica brings north-america back and quarantines its tail,
// and checks that the quarantine topic holds the records it held before,
// then that tail once, record for record, with the divergence's headers.
func (s *failoverSetup) reverseNorthAmerica(t *testing.T, d divergence, requestID string) agentapi.Quarantine {
	t.Helper()
	before := map[int32][]kafkatest.Record{}
	if kafkatest.TopicExists(t, s.eu.Bootstrap(), "LH.ORDERS.diverged") {
		before = kafkatest.ReadAll(t, s.eu.Bootstrap(), "LH.ORDERS.diverged")
	}
	var q agentapi.Quarantine
	if code := s.agent.call("POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{RequestID: requestID}, &q); code != 200 {
		var e agentapi.Error
		s.agent.call("POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{RequestID: requestID}, &e)
		t.Fatalf("reverse %s: HTTP %d %+v", requestID, code, e.Error)
	}
	if q.RequestID != requestID || q.DivergedEpoch != d.epoch || q.Records != d.lost {
		t.Fatalf("reverse %s answered the quarantine of request %s, divergence of epoch %d, %d records; want this request's, epoch %d, %d records",
			requestID, q.RequestID, q.DivergedEpoch, q.Records, d.epoch, d.lost)
	}
	quarantined := kafkatest.ReadAll(t, s.eu.Bootstrap(), "LH.ORDERS.diverged")
	for p := int32(0); p < 3; p++ {
		if len(quarantined[p]) < len(before[p]) {
			t.Fatalf("LH.ORDERS.diverged[%d] lost records: %d before reverse %s, %d after", p, len(before[p]), requestID, len(quarantined[p]))
		}
		for i := range before[p] {
			if !quarantined[p][i].Equal(before[p][i]) {
				t.Fatalf("LH.ORDERS.diverged[%d] record %d, quarantined before, changed", p, i)
			}
		}
		got := quarantined[p][len(before[p]):]
		if len(got) != len(d.tail[p]) {
			t.Fatalf("LH.ORDERS.diverged[%d] gained %d records; north-america's tail holds %d: each must be there once", p, len(got), len(d.tail[p]))
		}
		for i, want := range d.tail[p] {
			h := got[i].Headers
			if len(h) < 3 || string(h[len(h)-3].Value) != "north-america" || h[len(h)-2].Key != "kfo.diverged.epoch" ||
				string(h[len(h)-2].Value) != strconv.FormatInt(d.epoch, 10) || string(h[len(h)-1].Value) != strconv.FormatInt(want.Offset, 10) {
				t.Fatalf("LH.ORDERS.diverged[%d] record %d of this tail: headers %v, want north-america, epoch %d, offset %d", p, i, h, d.epoch, want.Offset)
			}
			got[i].Headers = h[:len(h)-3]
			if !want.Equal(got[i]) {
				t.Fatalf("LH.ORDERS.diverged[%d] record %d of this tail differs from north-america's offset %d", p, i, want.Offset)
			}
		}
	}
	var pol agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &pol)
	if len(pol.Diverged) != 0 {
		t.Fatalf("north-america is still diverged after reverse %s: %v", requestID, pol.Diverged)
	}
	return q
}

// waitRebuilt waits until eu-to-na has copied europe into north-america,
// and checks the two hold the same records.
func (s *failoverSetup) waitRebuilt(t *testing.T) {
	t.Helper()
	ends := endOffsets(t, s.eu.Bootstrap(), "LH.ORDERS")
	kafkatest.Eventually(t, time.Minute, "eu-to-na copied europe into the rebuilt north-america", func() (bool, string) {
		got := map[int32]int64{}
		for _, p := range s.agent.status("eu-to-na").Partitions {
			got[p.Partition] = p.LastMirroredOffset + 1
		}
		for p, n := range ends {
			if got[p] < n {
				return false, fmt.Sprintf("at %v of %v", got, ends)
			}
		}
		return true, ""
	})
	eu, na := kafkatest.ReadAll(t, s.eu.Bootstrap(), "LH.ORDERS"), kafkatest.ReadAll(t, s.na.Bootstrap(), "LH.ORDERS")
	for p := int32(0); p < 3; p++ {
		if len(eu[p]) != len(na[p]) {
			t.Fatalf("LH.ORDERS[%d]: europe holds %d records, the rebuilt north-america %d", p, len(eu[p]), len(na[p]))
		}
		for i := range eu[p] {
			if !eu[p][i].Equal(na[p][i]) {
				t.Fatalf("LH.ORDERS[%d] record %d differs between europe and the rebuilt north-america", p, i)
			}
		}
	}
}

func TestAClusterLostAgainAfterItsRebuildHasItsSecondTailQuarantinedRecordForRecord(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 1)
	// europe refuses records over 200 KB, north-america takes them: a big
	// record stalls the mirror into europe, and what follows it diverges.
	limit := "200000"
	kafkatest.CreateTopic(t, s.eu.Bootstrap(), "LH.ORDERS", 3, map[string]*string{"max.message.bytes": &limit})
	kafkatest.CreateTopic(t, s.na.Bootstrap(), "LH.ORDERS", 3, nil)
	s.agent.mustPut("/v1/mirrors/eu-to-na", agentapi.Mirror{Source: "europe", Target: "north-america",
		Topics: agentapi.Selector{Include: []string{`LH\..*`}}, RefreshInterval: "1s", TasksMax: 1})
	s.agent.mustPut("/v1/policies/loosehanger", agentapi.Policy{Clusters: []string{"north-america", "europe"},
		Mirrors: []string{"na-to-eu", "eu-to-na"}, Fencing: agentapi.FencingNone, DrainTimeout: "30s"})

	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 3, 100)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 3, 100)

	// The first divergence: north-america's offsets [100, 201).
	first := s.loseNorthAmerica(t, 100, "lose-na-1")
	s.na.Restart()
	q1 := s.reverseNorthAmerica(t, first, "na-back-1")
	kafkatest.NewProducer(t, s.eu.Bootstrap()).Produce(t, "LH.ORDERS", 3, 20) // europe is active
	s.waitRebuilt(t)

	// north-america becomes active again, takes writes, and europe mirrors them.
	if code, res, e := s.failover(t, agentapi.FailoverRequest{To: "north-america", Mode: agentapi.ModePlanned, RequestID: "failback-1"}); code != 200 || res.Report.RecordsLost != 0 {
		t.Fatalf("planned failback: HTTP %d %+v %+v", code, e.Error, res.Report)
	}
	kafkatest.NewProducer(t, s.na.Bootstrap()).Produce(t, "LH.ORDERS", 3, 5)
	euBefore := partitionCounts(t, s.eu, "LH.ORDERS")
	kafkatest.Eventually(t, time.Minute, "na-to-eu copies north-america's new records", func() (bool, string) {
		n := partitionCounts(t, s.eu, "LH.ORDERS")
		return n[0] == euBefore[0]+5 && n[1] == euBefore[1]+5 && n[2] == euBefore[2]+5, fmt.Sprint(n)
	})

	// The second divergence of the same cluster.
	second := s.loseNorthAmerica(t, 90, "lose-na-2")
	if second.epoch != 3 {
		t.Fatalf("the second forced failover made epoch %d, want 3", second.epoch)
	}
	for p, tail := range second.tail {
		// The quarantine will end in the first tail's records, the last of
		// which has an offset inside the second tail: it must not pass for
		// a record of the second tail that an earlier attempt copied.
		if last := first.tail[p][len(first.tail[p])-1].Offset; last < tail[0].Offset || last > tail[len(tail)-1].Offset {
			t.Fatalf("LH.ORDERS[%d]: the first tail ends at offset %d, outside the second tail's [%d, %d]: the test no longer overlaps them",
				p, last, tail[0].Offset, tail[len(tail)-1].Offset)
		}
	}
	var pol agentapi.Policy
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &pol)
	if fmt.Sprint(pol.Diverged) != "[north-america]" {
		t.Fatalf("after the second forced failover: diverged %v, want north-america", pol.Diverged)
	}
	if st := s.agent.status("eu-to-na"); st.State != agentapi.MirrorStopped || !strings.Contains(st.Reason, "/reverse quarantines them") {
		t.Errorf("eu-to-na is %s: %q; want it stopped until the new tail is quarantined", st.State, st.Reason)
	}
	if code, _, e := s.failover(t, agentapi.FailoverRequest{To: "north-america", Mode: agentapi.ModePlanned, RequestID: "back-too-soon"}); code != 409 || !strings.Contains(e.Error.Message, "POST /v1/policies/loosehanger/reverse") {
		t.Errorf("failover to the diverged north-america: HTTP %d %+v; want 409 saying how to reconcile it", code, e.Error)
	}
	var e agentapi.Error
	if code := s.agent.call("POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{RequestID: "na-back-1"}, &e); code != 409 || !strings.Contains(e.Error.Message, "new request_id") {
		t.Errorf("reverse with the first divergence's request id: HTTP %d %+v; want 409 asking for a new request_id", code, e.Error)
	}

	s.na.Restart()
	q2 := s.reverseNorthAmerica(t, second, "na-back-2")
	s.waitRebuilt(t)
	s.agent.call("GET", "/v1/policies/loosehanger", nil, &pol)
	if len(pol.Quarantines) != 2 || pol.Quarantines[0].RequestID != "na-back-1" || pol.Quarantines[0].DivergedEpoch != 1 ||
		pol.Quarantines[1].RequestID != "na-back-2" || pol.Quarantines[1].DivergedEpoch != 3 {
		t.Fatalf("the policy lists quarantines %+v; want na-back-1 of epoch 1 and na-back-2 of epoch 3", pol.Quarantines)
	}
	var again agentapi.Quarantine
	if code := s.agent.call("POST", "/v1/policies/loosehanger/reverse", agentapi.ReverseRequest{RequestID: "na-back-1"}, &again); code != 200 || !again.CompletedAt.Equal(q1.CompletedAt) {
		t.Fatalf("repeating the first reverse request: HTTP %d %+v, want its first answer", code, again)
	}
	t.Logf("north-america lost twice: tails of %d (epoch %d) and %d records (epoch %d) quarantined in LH.ORDERS.diverged once each, rebuilt each time",
		q1.Records, q1.DivergedEpoch, q2.Records, q2.DivergedEpoch)
}
