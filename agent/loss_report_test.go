package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// stalledMirror starts the failover scene with topic's parts partitions
// mirrored (100 records each), then makes europe hold every produce request
// that writes topic, as a slow or stuck target does, and produces 10 more
// records a partition: it returns once the mirror task waits in its
// transaction with them, fetching nothing from the source meanwhile.
// release lets the held requests go; it runs when the test ends if the test
// did not call it.
func stalledMirror(t *testing.T, topic string, parts int32) (s *failoverSetup, prod *kafkatest.Producer, release func()) {
	s = newFailoverSetup(t, agentapi.FencingNone, 1)
	kafkatest.CreateTopic(t, s.na.Bootstrap(), topic, parts, nil)
	prod = kafkatest.NewProducer(t, s.na.Bootstrap())
	prod.Produce(t, topic, parts, 100)
	waitMirroredTopic(t, s.agent, topic, parts, 100)

	td, err := kadm.NewClient(kafkatest.Client(t, s.eu.Bootstrap())).ListTopics(context.Background(), topic)
	if err != nil || td[topic].Err != nil {
		t.Fatalf("topic %s on europe: %v %v", topic, err, td[topic].Err)
	}
	id := td[topic].ID // produce requests name topics by id from v13 on
	released := make(chan struct{})
	release = sync.OnceFunc(func() { close(released) })
	t.Cleanup(release)
	held := new(atomic.Bool)
	euc := s.devEU(t)
	euc.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		euc.KeepControl()
		for _, pt := range req.(*kmsg.ProduceRequest).Topics {
			if pt.Topic == topic || pt.TopicID == id {
				held.Store(true)
				euc.SleepControl(func() { <-released })
				break
			}
		}
		return nil, nil, false
	})
	prod.Produce(t, topic, parts, 10)
	kafkatest.Eventually(t, 30*time.Second, "europe holds the mirror's write", func() (bool, string) { return held.Load(), "" })
	return s, prod, release
}

// A burst on the source while the mirror is stalled is known to the report
// and the forecast: the source's ends are watched apart from the tasks, so
// the figures are those of the last contact with the lost cluster, not of
// the task's last fetch.
func TestForcedFailoverReportCountsABurstTheStalledMirrorNeverFetched(t *testing.T) {
	devOnly(t, "it holds europe's produce requests for one topic (kfake ControlKey) so that the task fetches nothing; Apache Kafka cannot hold them: an ACL fails them, and a quota answers at once and delays the next request by one quota window at most, so the task fetches the burst either way")
	const topic, parts = "LH.BURST", 3
	s, prod, release := stalledMirror(t, topic, parts)
	// Two bursts: the task's client may fetch the first ahead while the
	// task waits, but holds one fetch per broker until the task polls, so
	// it never fetches the second.
	for burst := range 2 {
		prod.Produce(t, topic, parts, 2000)
		var produced int64
		for p := range int32(parts) {
			produced += prod.Produced(topic, p)
		}
		kafkatest.Eventually(t, 30*time.Second, fmt.Sprintf("the forecast counts burst %d", burst+1), func() (bool, string) {
			var fc agentapi.Forecast
			s.agent.call("GET", "/v1/policies/loosehanger/forecast?to=europe", nil, &fc)
			return fc.Report.RecordsLost >= produced-3*110, fmt.Sprintf("%d records at risk, %d produced", fc.Report.RecordsLost, produced)
		})
	}

	s.na.Kill()
	release()
	code, res, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "burst"})
	if code != 200 || res.Report == nil {
		t.Fatalf("forced failover: HTTP %d %+v", code, e.Error)
	}
	onEU := partitionCounts(t, s.eu, topic)
	rep := res.Report
	var truth int64
	for _, p := range rep.Partitions {
		want := prod.Produced(topic, p.Partition) - onEU[p.Partition]
		truth += want
		if p.RecordsLost != want {
			t.Errorf("%s[%d]: report says %d lost, truly %d", p.Topic, p.Partition, p.RecordsLost, want)
		}
		if p.HighWatermarkObservedAt.IsZero() || p.LowerBound {
			t.Errorf("%s[%d]: observed at %v, lower bound %v: want a fresh observation", p.Topic, p.Partition, p.HighWatermarkObservedAt, p.LowerBound)
		}
	}
	// Once released, the task may still copy what its client fetched ahead
	// (at most the first burst) before north-america was lost.
	if len(rep.Partitions) != parts || rep.RecordsLost != truth || truth < 3*2000 {
		t.Fatalf("report: %d lost over %d partitions; truly %d", rep.RecordsLost, len(rep.Partitions), truth)
	}
	if rep.SourceLastContact == nil || time.Since(*rep.SourceLastContact) > time.Minute || rep.Accuracy == "" {
		t.Fatalf("report: last contact %v, accuracy %q: want when north-america last answered and what that means", rep.SourceLastContact, rep.Accuracy)
	}
	t.Logf("report: %d lost (truly %d); %s", rep.RecordsLost, truth, rep.Accuracy)
}

// The records a mirror task fetched before the source was lost are the last
// copies of them anywhere: a forced failover lets the task commit them
// before it stops, instead of cancelling the transaction that holds them.
// Here europe holds the task's write of a second batch; the source is lost
// and the failover stops the task while the write is held; once europe
// answers, the batch is on europe and the report counts no loss.
func TestAForcedFailoverKeepsTheRecordsItsTasksAlreadyFetched(t *testing.T) {
	devOnly(t, "it holds europe's produce requests for one topic (kfake ControlKey) until the failover has stopped the task; Apache Kafka cannot hold a request")
	const topic, parts = "LH.HELD", 3
	s, prod, release := stalledMirror(t, topic, parts)

	s.na.Kill()
	type answer struct {
		code int
		res  agentapi.Failover
		err  agentapi.Error
	}
	answered := make(chan answer, 1)
	go func() {
		code, res, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "held"})
		answered <- answer{code, res, e}
	}()
	s.agent.waitLogged(t, 30*time.Second, "mirror task revoked from this agent")
	release()
	a := <-answered
	if a.code != 200 || a.res.Report == nil {
		t.Fatalf("forced failover: HTTP %d %+v", a.code, a.err.Error)
	}
	onEU := partitionCounts(t, s.eu, topic)
	for p := range int32(parts) {
		if n, want := onEU[p], prod.Produced(topic, p); n != want {
			t.Errorf("%s[%d]: %d records on europe, %d produced on north-america: the task had fetched them all before the loss", topic, p, n, want)
		}
	}
	if a.res.Report.RecordsLost != 0 {
		t.Errorf("report: %d records lost, want 0", a.res.Report.RecordsLost)
	}
}
