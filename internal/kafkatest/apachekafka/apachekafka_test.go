package apachekafka_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/apachekafka"
)

func TestSecureClusterAuthenticatesAuthorizesAndKeepsRecordsAcrossAKill(t *testing.T) {
	c := apachekafka.Start(t, "north-america", apachekafka.Options{Secure: true, Users: map[string]string{"app": "app-secret-pw"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := func(opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	admin := client(c.ClientOpts()...)
	if _, err := kadm.NewClient(admin).CreateTopic(ctx, 1, 1, nil, "LH.ORDERS"); err != nil {
		t.Fatal(err)
	}
	if err := admin.ProduceSync(ctx, &kgo.Record{Topic: "LH.ORDERS", Value: []byte("one")}).FirstErr(); err != nil {
		t.Fatalf("the super user produces: %v", err)
	}

	// A user without ACLs is refused by the StandardAuthorizer.
	app := client(append(c.UserOpts("app", "app-secret-pw"), kgo.RecordRetries(1))...)
	if err := app.ProduceSync(ctx, &kgo.Record{Topic: "LH.ORDERS", Value: []byte("two")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("user app without ACLs produces: err %v; want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// A wrong password does not authenticate.
	wrong := client(c.UserOpts("app", "not-the-password")...)
	if err := wrong.Ping(ctx); err == nil {
		t.Fatal("a wrong SCRAM password authenticated")
	}

	c.Kill()
	if err := admin.Ping(ctx); err == nil {
		t.Fatal("a killed cluster answered a ping")
	}
	began := time.Now()
	c.Restart()
	t.Logf("restart took %s", time.Since(began).Round(time.Millisecond))
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, "LH.ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("LH.ORDERS", 0); o.Offset != 1 {
		t.Fatalf("after kill and restart LH.ORDERS[0] ends at %d; want 1 (%v)", o.Offset, o.Err)
	}
}

func TestThreeNodeClusterKeepsServingWhenANodeIsKilled(t *testing.T) {
	if os.Getenv(kafkatest.KindEnv) != kafkatest.Apache {
		t.Skip("three Java processes are for the full Apache Kafka set: KFO_TEST_KAFKA=apache (make test-kafka)")
	}
	c := apachekafka.Start(t, "europe", apachekafka.Options{Brokers: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, 1, 3, nil, "LH.ORDERS")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	c.KillNode(0)
	// The controller quorum (2 of 3) and the partition's other replicas
	// carry on without node 1.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "LH.ORDERS", Value: []byte("after the kill")}).FirstErr(); err != nil {
		t.Fatalf("produce with one of three nodes killed: %v", err)
	}
}
