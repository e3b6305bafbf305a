package main

import (
	"context"
	"testing"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/agentclient"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// A failover is requested through the provider's client while the agent
// is down (SIGKILL) and restarting: the client retries until the agent
// answers, the policy flips once to epoch 1, the same request sent again
// is answered without a second flip, and the new active cluster holds
// every record of the old one exactly once.
func TestAFailoverRequestedWhileTheAgentRestartsFlipsOnce(t *testing.T) {
	s := newFailoverSetup(t, agentapi.FencingNone, 2)
	kafkatest.CreateTopic(t, s.na.Bootstrap(), "LH.ORDERS", 2, nil, s.na.ClientOpts()...)
	kafkatest.NewProducer(t, s.na.Bootstrap(), s.na.ClientOpts()...).Produce(t, "LH.ORDERS", 2, 500)
	waitMirroredTopic(t, s.agent, "LH.ORDERS", 2, 500)

	client, err := agentclient.New(agentclient.Config{BaseURL: s.agent.url, Token: testToken, RetryMax: 30, RetryWaitMin: 200 * time.Millisecond, RetryWaitMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	req := agentapi.FailoverRequest{To: "europe", Mode: agentapi.ModeForced, RequestID: "during-restart"}
	s.agent.kill9()
	t.Log("injected: the agent SIGKILLed, a failover requested while it is down, the agent started again")
	type answer struct {
		res agentapi.Failover
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := client.Failover(context.Background(), "loosehanger", req, 2*time.Minute)
		answered <- answer{res, err}
	}()
	s.agent.start()
	got := <-answered
	if got.err != nil {
		t.Fatalf("the failover sent during the restart: %v", got.err)
	}
	again, err := client.Failover(context.Background(), "loosehanger", req, time.Minute)
	if err != nil {
		t.Fatalf("the same request sent again: %v", err)
	}
	p, err := client.GetPolicy(context.Background(), "loosehanger")
	if err != nil {
		t.Fatal(err)
	}
	if p.Active != "europe" || p.Epoch != 1 || got.res.Epoch != 1 || again.Epoch != 1 {
		t.Fatalf("after the failover sent during the restart: active %s epoch %d; answered epoch %d, again %d; want europe, 1 flip",
			p.Active, p.Epoch, got.res.Epoch, again.Epoch)
	}
	n := assertSameRecords(t, s.na, s.eu, "LH.ORDERS", "LH.ORDERS")
	t.Logf("one flip to epoch %d; all %d records on europe exactly once", p.Epoch, n)
}
