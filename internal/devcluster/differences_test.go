package devcluster_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// Each subtest pins a difference of the package doc on both kinds, one
// cluster per kind: when kfake changes, its dev subtest fails, and the
// difference is struck from the list.
func TestDevClustersDifferFromApacheKafkaAsThePackageDocSays(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		c := kafkatest.NewClusterOfKind(t, kind, "differences", kafkatest.ClusterOptions{Secure: true})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cl := kafkatest.ClientOf(t, c)

		// librdkafka wants SaslHandshake v0 advertised before it
		// authenticates: kcat cannot use SASL against a dev cluster.
		t.Run("SASLHandshakeServedFromV1OnDevClusters", func(t *testing.T) {
			resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int16{kafkatest.Dev: 1, kafkatest.Apache: 0}[kind]
			for _, k := range resp.ApiKeys {
				if k.ApiKey == int16(kmsg.SASLHandshake) {
					if k.MinVersion != want {
						t.Fatalf("%s serves SaslHandshake v%d to v%d; want the lowest v%d", kind, k.MinVersion, k.MaxVersion, want)
					}
					return
				}
			}
			t.Fatalf("%s does not serve SaslHandshake", kind)
		})

		// A wrong password: Apache Kafka answers SASL_AUTHENTICATION_FAILED,
		// kfake closes the connection, and the client sees only EOF.
		t.Run("AFailedSASLLoginClosesTheConnectionOnDevClusters", func(t *testing.T) {
			bad := c.Declared()
			conn, err := kafkaconn.Opts(kafkaconn.Conn{Name: "differences", BootstrapServers: bad.BootstrapServers,
				SASLMechanism: bad.SASL.Mechanism, SASLUsername: bad.SASL.Username, SASLPassword: "not-the-password",
				TLS: true, CAPEM: bad.TLS.CAPEM, CertPEM: bad.TLS.CertPEM, KeyPEM: bad.TLS.KeyPEM})
			if err != nil {
				t.Fatal(err)
			}
			err = kafkatest.Client(t, nil, append(conn, kgo.RequestRetries(0))...).Ping(ctx)
			switch {
			case kind == kafkatest.Dev && !errors.Is(err, io.EOF):
				t.Fatalf("a dev cluster answers a wrong password with %v; the package doc says the connection closes (EOF)", err)
			case kind == kafkatest.Apache && !errors.Is(err, kerr.SaslAuthenticationFailed):
				t.Fatalf("Apache Kafka answers a wrong password with %v; want SASL_AUTHENTICATION_FAILED", err)
			}
		})

		// Apache Kafka reads group.min.session.timeout.ms at start only.
		t.Run("GroupMinSessionTimeoutChangesWhileRunningOnDevClustersOnly", func(t *testing.T) {
			v := "500"
			resp, err := kadm.NewClient(cl).AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "group.min.session.timeout.ms", Value: &v}})
			if err != nil {
				t.Fatal(err)
			}
			err = resp[0].Err
			if refused := err != nil; refused != (kind == kafkatest.Apache) {
				t.Fatalf("%s answers a change of group.min.session.timeout.ms with %v (%s)", kind, err, resp[0].ErrMessage)
			}
			if kind == kafkatest.Apache && !errors.Is(err, kerr.InvalidRequest) {
				t.Fatalf("Apache Kafka refuses the change with %v (%s); want INVALID_REQUEST", err, resp[0].ErrMessage)
			}
		})
	})
}
