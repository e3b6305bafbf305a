package kafkaconn_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/testcerts"
)

// connOf is the connection the agent builds from a declared cluster.
func connOf(k kafkatest.Kafka) kafkaconn.Conn {
	d := k.Declared()
	return kafkaconn.Conn{
		Name: "europe", BootstrapServers: d.BootstrapServers,
		SASLMechanism: d.SASL.Mechanism, SASLUsername: d.SASL.Username, SASLPassword: d.SASL.Password,
		TLS: true, CAPEM: d.TLS.CAPEM, CertPEM: d.TLS.CertPEM, KeyPEM: d.TLS.KeyPEM,
	}
}

// metadata connects with opts and reads the cluster's brokers.
func metadata(opts []kgo.Opt) error {
	cl, err := kgo.NewClient(append(opts, kgo.RetryTimeout(3*time.Second))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = kadm.NewClient(cl).BrokerMetadata(ctx)
	return err
}

func TestOptsConnectOverTLSWithSCRAMAndAClientCertificate(t *testing.T) {
	k := kafkatest.NewCluster(t, "europe", kafkatest.ClusterOptions{Secure: true})
	opts, err := kafkaconn.Opts(connOf(k))
	if err != nil {
		t.Fatal(err)
	}
	if err := metadata(opts); err != nil {
		t.Fatalf("metadata over TLS through kafkaconn.Opts: %v", err)
	}
}

func TestOptsRefuseABrokerTheGivenCADidNotSign(t *testing.T) {
	k := kafkatest.NewCluster(t, "europe", kafkatest.ClusterOptions{Secure: true})
	other, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	conn := connOf(k)
	conn.CAPEM = other.CAPEM
	opts, err := kafkaconn.Opts(conn)
	if err != nil {
		t.Fatal(err)
	}
	if err := metadata(opts); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("metadata from a broker signed by another CA: err %v; want a certificate error", err)
	}
}

func TestPrincipalIsTheSASLUserElseTheClientCertificatesSubjectElseAnonymous(t *testing.T) {
	certs, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	tlsOnly := kafkaconn.Conn{Name: "europe", TLS: true, CertPEM: certs.ClientCertPEM, KeyPEM: certs.ClientKeyPEM}
	withSASL := tlsOnly
	withSASL.SASLMechanism, withSASL.SASLUsername = "SCRAM-SHA-512", "kfo-agent"
	for _, c := range []struct {
		conn kafkaconn.Conn
		want string
	}{
		{withSASL, "User:kfo-agent"},
		{tlsOnly, "User:CN=client"},
		{kafkaconn.Conn{Name: "europe"}, "User:ANONYMOUS"},
	} {
		if got, err := kafkaconn.Principal(c.conn); err != nil || got != c.want {
			t.Errorf("principal of %s: %q %v, want %q", c.want, got, err, c.want)
		}
	}
	if _, err := kafkaconn.Principal(kafkaconn.Conn{Name: "europe", TLS: true, CertPEM: "not a certificate"}); err == nil || !strings.Contains(err.Error(), "tls.cert_pem") {
		t.Errorf("principal of a connection whose certificate is no PEM: %v, want an error naming tls.cert_pem", err)
	}
}

// The agent builds every client of a cluster from the one set of options
// Opts answered, each adding its own (a partition to consume, a
// transactional id), from many goroutines at once: the tasks of a mirror
// share their target's options. What one adds never reaches another's
// client. It did when the answer had room to grow: the tasks' reads of the
// offset-sync topic consumed each other's partitions and waited for ever for
// their own end (issue 16's liveness stall), and a fence could initialize
// another transactional id than the one it meant.
func TestWhatOneClientAddsToAClustersOptionsNeverReachesAnother(t *testing.T) {
	conns := map[string]kafkaconn.Conn{
		"plaintext": {Name: "europe", BootstrapServers: []string{"127.0.0.1:9092"}},
		"SCRAM and the observer, as mirrors have them": {Name: "europe", BootstrapServers: []string{"127.0.0.1:9092"},
			SASLMechanism: "SCRAM-SHA-512", SASLUsername: "agent", SASLPassword: "secret",
			Observer: kafkaconn.NewObserver(slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())},
	}
	for name, conn := range conns {
		t.Run(name, func(t *testing.T) {
			opts, err := kafkaconn.Opts(conn)
			if err != nil {
				t.Fatal(err)
			}
			task0 := append(opts, kgo.TransactionalID("task-0"))
			task1 := append(opts, kgo.TransactionalID("task-1"))
			for want, own := range map[string][]kgo.Opt{"task-0": task0, "task-1": task1} {
				cl, err := kgo.NewClient(own...)
				if err != nil {
					t.Fatal(err)
				}
				got := cl.OptValue(kgo.TransactionalID)
				cl.Close()
				if got != want {
					t.Errorf("a client built with transactional id %q has %q: another client's option replaced its own", want, got)
				}
			}
		})
	}
}
