package kafkatest_test

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
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

// A Proxied cluster is cut for the clients that learned its addresses from
// metadata, the agent's way, and for no one else: its brokers replicate
// meanwhile (Apache Kafka's nodes reach each other on a listener of their
// own), and the test's own clients reach them directly.
func TestAProxiedClusterIsCutForClientsOnlyAndReplicatesMeanwhile(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		c := kafkatest.NewClusterOfKind(t, kind, "north-america", kafkatest.ClusterOptions{Brokers: 3, Secure: true, Proxied: true})
		direct := kafkatest.ClientOf(t, c, kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProduceRequestTimeout(10*time.Second), kgo.RecordDeliveryTimeout(20*time.Second))
		d := c.Declared()
		proxied, err := kafkaconn.Opts(kafkaconn.Conn{Name: d.Name, BootstrapServers: d.BootstrapServers,
			SASLMechanism: d.SASL.Mechanism, SASLUsername: d.SASL.Username, SASLPassword: d.SASL.Password,
			TLS: true, CAPEM: d.TLS.CAPEM, CertPEM: d.TLS.CertPEM, KeyPEM: d.TLS.KeyPEM})
		if err != nil {
			t.Fatal(err)
		}
		agent := kafkatest.Client(t, d.BootstrapServers, append(proxied, kgo.RetryTimeout(2*time.Second))...)
		// ApiVersions to every broker: unlike metadata, franz-go never
		// answers it from its cache.
		answers := func(cl *kgo.Client) error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			vs, err := kadm.NewClient(cl).ApiVersions(ctx)
			if err == nil && len(vs) != 3 {
				err = fmt.Errorf("%d brokers answered", len(vs))
			}
			for _, v := range vs {
				err = cmp.Or(err, v.Err)
			}
			return err
		}
		if err := answers(agent); err != nil {
			t.Fatalf("through the proxies before the cut: %v", err)
		}
		md, err := kadm.NewClient(agent).BrokerMetadata(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range md.Brokers {
			if addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))); !slices.Contains(c.Bootstrap(), addr) {
				t.Fatalf("broker %d advertises %s, not one of the proxies %v", b.NodeID, addr, c.Bootstrap())
			}
		}

		cut := c.(kafkatest.Cuttable)
		cut.Cut()
		if err := answers(agent); err == nil {
			t.Fatal("a client that learned the proxies from metadata reads metadata through a cut")
		}
		// Three replicas and all of them in sync for every write: the
		// followers must fetch from the leader while the proxies are cut.
		three := "3"
		kafkatest.CreateTopic(t, c.Bootstrap(), "LH.ORDERS", 2, map[string]*string{"min.insync.replicas": &three}, c.ClientOpts()...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for i := range 20 {
			// Timestamped now: the delivery timeout counts from it.
			if err := direct.ProduceSync(ctx, &kgo.Record{Topic: "LH.ORDERS", Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatalf("record %d with acks=all and min.insync.replicas=3 while the proxies are cut: %v", i, err)
			}
		}

		cut.Restore()
		kafkatest.Eventually(t, 30*time.Second, "the proxies answer again", func() (bool, string) {
			err := answers(agent)
			return err == nil, fmt.Sprint(err)
		})
		got := kafkatest.ReadAll(t, d.BootstrapServers, "LH.ORDERS", proxied...)
		if n := len(got[0]) + len(got[1]); n != 20 {
			t.Fatalf("read %d records through the proxies, want 20", n)
		}
	})
}
