package devcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// Apache Kafka 4.1 serves SaslHandshake v0 and v1; kfake serves v1 only.
// librdkafka wants v0 among the versions a broker advertises before it
// authenticates, so kcat cannot use SASL against a dev cluster ("SASL
// Handshake not supported by broker"). A kfake that serves v0 fails the
// dev subtest: then strike the difference from the package doc.
func TestSASLHandshakeVersionsAdvertisedDifferFromApacheKafka(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) {
		c := kafkatest.NewClusterOfKind(t, kind, "sasl-versions", kafkatest.ClusterOptions{Secure: true})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, kafkatest.ClientOf(t, c))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int16{kafkatest.Dev: 1, kafkatest.Apache: 0}[kind]
		for _, k := range resp.ApiKeys {
			if k.ApiKey == int16(kmsg.SASLHandshake) {
				if k.MinVersion != want {
					t.Fatalf("%s advertises SaslHandshake v%d to v%d; want the lowest v%d", kind, k.MinVersion, k.MaxVersion, want)
				}
				return
			}
		}
		t.Fatalf("%s does not advertise SaslHandshake", kind)
	})
}
