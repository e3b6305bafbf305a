package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// refuseCommits makes europe answer GROUP_AUTHORIZATION_FAILED to every
// offset commit of the given groups until lift is called for the group.
func refuseCommits(t *testing.T, s *failoverSetup, groups ...string) (lift func(group string)) {
	eu := s.devEU(t)
	var mu sync.Mutex
	refused := map[string]bool{}
	for _, g := range groups {
		refused[g] = true
	}
	eu.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		eu.KeepControl()
		r := req.(*kmsg.OffsetCommitRequest)
		mu.Lock()
		refuse := refused[r.Group]
		mu.Unlock()
		if !refuse {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.GroupAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return func(group string) {
		mu.Lock()
		defer mu.Unlock()
		delete(refused, group)
	}
}

// A forced failover whose offset commit the new active refuses for some
// groups says so per group in its report, and keeps trying after the flip:
// once the refusal is lifted the translated offsets appear on the new
// active without another failover, also when the agent restarted meanwhile.
func TestAnOffsetCommitRefusedDuringAFailoverIsReportedAndRetriedAfterTheFlipAndARestart(t *testing.T) {
	devOnly(t, "europe refuses chosen offset commits through kfake's request hooks")
	const topic = "LH.ORDERS"
	s, _ := mirroredSetup(t, topic, 2, 100)
	lift := refuseCommits(t, s, "consumer-live", "consumer-restart")
	groups := map[string]map[int32]int{"consumer-live": {0: 10, 1: 20}, "consumer-restart": {0: 30, 1: 40}, "consumer-fine": {0: 50, 1: 60}}
	for g, n := range groups {
		consumeAndCommit(t, s.na.Bootstrap(), g, topic, n)
	}
	waitSynced(t, s.agent, "consumer-fine", 2)
	kafkatest.Eventually(t, 30*time.Second, "checkpoints of the refused groups", func() (bool, string) {
		for _, g := range []string{"consumer-live", "consumer-restart"} {
			var cps agentapi.GroupCheckpoints
			if s.agent.call("GET", "/v1/mirrors/na-to-eu/groups/"+g, nil, &cps) != 200 || len(cps.Partitions) != 2 {
				return false, g
			}
		}
		return true, ""
	})

	s.na.Kill()
	code, res, e := s.failover(t, agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "refused"})
	if code != 200 || res.Report == nil {
		t.Fatalf("forced failover: HTTP %d %+v", code, e.Error)
	}
	for _, g := range res.Report.Groups {
		refused := g.Group != "consumer-fine"
		if refused != (strings.Contains(g.CommitError, "GROUP_AUTHORIZATION_FAILED") && g.CommitRetrying) {
			t.Errorf("report: group %s: commit error %q, retrying %v", g.Group, g.CommitError, g.CommitRetrying)
		}
	}
	if len(res.Report.Groups) != 3 {
		t.Fatalf("report names %d groups, want 3: %+v", len(res.Report.Groups), res.Report.Groups)
	}

	adm := kadm.NewClient(kafkatest.Client(t, s.eu.Bootstrap()))
	waitCommitted := func(group string) {
		t.Helper()
		kafkatest.Eventually(t, time.Minute, group+"'s offsets on europe", func() (bool, string) {
			fetched, err := adm.FetchOffsets(context.Background(), group)
			if err != nil {
				return false, err.Error()
			}
			for p, n := range groups[group] {
				if o, ok := fetched.Lookup(topic, p); !ok || o.At != int64(n) {
					return false, fmt.Sprintf("%s[%d] at %+v, want %d", topic, p, o, n)
				}
			}
			return true, ""
		})
	}
	waitCommitted("consumer-fine")
	lift("consumer-live")
	waitCommitted("consumer-live")

	// The agent stops while the refusal lasts; its successor retries.
	s.agent.stop()
	lift("consumer-restart")
	s.agent.start()
	waitCommitted("consumer-restart")
}
