package kafkatest_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

func TestNewClusterServesSecureClientsAndKeepsRecordsAcrossAKill(t *testing.T) {
	c := kafkatest.NewCluster(t, "north-america", kafkatest.ClusterOptions{Secure: true})
	kafkatest.CreateTopic(t, c.Bootstrap(), "LH.ORDERS", 2, nil, c.ClientOpts()...)
	kafkatest.NewProducer(t, c.Bootstrap(), c.ClientOpts()...).Produce(t, "LH.ORDERS", 2, 10)

	// Without TLS and SCRAM the cluster does not answer.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(kafkatest.Client(t, c.Bootstrap(), kgo.RetryTimeout(time.Second))).BrokerMetadata(ctx); err == nil {
		t.Fatal("a client without TLS and SCRAM read the metadata of a secure cluster")
	}

	c.Kill()
	c.Restart()
	got := kafkatest.ReadAll(t, c.Bootstrap(), "LH.ORDERS", c.ClientOpts()...)
	if len(got[0]) != 10 || len(got[1]) != 10 {
		t.Fatalf("after kill and restart LH.ORDERS holds %s; want 10 records in each partition", kafkatest.Sprint(got))
	}
}
