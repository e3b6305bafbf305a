package kafkatest

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/apachekafka"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest/testcerts"
)

// KindEnv selects the Kafka that tests run on:
//
//   - unset: NewCluster starts dev clusters (kfake, inside the test
//     process), and the short set runs on Apache Kafka as well.
//   - "dev": dev clusters only, the short set included.
//   - "apache": Apache Kafka (Java processes, see package apachekafka) for
//     every test, the short set included (make test-kafka).
//
// The short set is the tests that call EachKind: `make test` runs them on
// both kinds, within a few minutes of Apache Kafka on a small machine. The
// other tests take their clusters from NewCluster and run on Apache Kafka
// only with KFO_TEST_KAFKA=apache. A test of the short set that finds no
// Apache Kafka installed is skipped on it, saying why (apachekafka.Libs).
const KindEnv = "KFO_TEST_KAFKA"

// Kind answers the kind of cluster NewCluster starts ("" is Dev).
func Kind() string { return os.Getenv(KindEnv) }

// EachKind puts a test in the short set: it runs test as one subtest per
// kind of cluster KFO_TEST_KAFKA selects for the short set (see KindEnv),
// named after the kind, one after the other. test takes its clusters from
// NewClusterOfKind with the kind it is given.
func EachKind(t *testing.T, test func(t *testing.T, kind string)) {
	t.Helper()
	kinds := []string{Dev, Apache}
	if v := Kind(); v != "" {
		kinds = []string{v}
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) { test(t, kind) })
	}
}

// Kafka is a test cluster of either kind, so the same test runs on both.
type Kafka interface {
	Bootstrap() []string
	// ClientOpts connect with every right: as the super user of a secure
	// cluster. They hold no seed brokers.
	ClientOpts() []kgo.Opt
	// UserOpts connect as one of ClusterOptions.Users, who may do only what
	// ACLs allow.
	UserOpts(user, password string) []kgo.Opt
	// Declared is the cluster as the agent's API takes it, secrets included.
	Declared() agentapi.Cluster
	// Kill loses the cluster at once, as a region is lost; Restart brings
	// it back on the same addresses with the data it had.
	Kill()
	Restart()
}

// ClusterOptions shape a cluster of either kind.
type ClusterOptions struct {
	Brokers int // 1 when 0
	// Secure listens with TLS and SCRAM-SHA-512 (SASL_SSL) and authorizes
	// with ACLs; ClientOpts and Declared then authenticate as the super user
	// and trust the test CA.
	Secure bool
	// GroupMinSessionTimeout is the brokers' group.min.session.timeout.ms;
	// 0 is the test clusters' 500 ms (Apache Kafka's own default is 6 s).
	GroupMinSessionTimeout time.Duration
	// Users are more SCRAM users (name -> password) of a secure cluster;
	// they may do only what ACLs allow.
	Users map[string]string
	// Proxied puts a Proxy in front of each broker and has the brokers
	// advertise it: the agent, which learns addresses from metadata,
	// reaches them through the proxies, which Cut cuts. The test's own
	// clients (ClientOpts, UserOpts) dial the brokers directly, as
	// producers that still reach their cluster do. Apache Kafka's nodes
	// reach each other on a listener of their own, never cut.
	Proxied bool
}

// Cuttable is a cluster started with ClusterOptions.Proxied.
type Cuttable interface {
	// Cut makes the cluster unreachable through its advertised
	// addresses: open connections are closed, new ones refused.
	Cut()
	// Restore makes it reachable again.
	Restore()
}

// InProcess is a dev cluster's kfake, for a test that holds its requests
// or compacts its topics at will; Apache Kafka offers neither.
type InProcess interface {
	Dev() *devcluster.Cluster
}

// The kinds of test cluster.
const (
	Dev    = "dev"
	Apache = "apache"
)

// NewCluster starts a cluster of the kind KFO_TEST_KAFKA selects, on
// loopback, stopped when the test ends.
func NewCluster(t testing.TB, name string, opts ClusterOptions) Kafka {
	t.Helper()
	return NewClusterOfKind(t, Kind(), name, opts)
}

// NewClusterOfKind is NewCluster for a test that names its kind ("" is
// Dev); an Apache cluster is skipped, saying why, without Apache Kafka.
func NewClusterOfKind(t testing.TB, kind, name string, opts ClusterOptions) Kafka {
	t.Helper()
	switch kind {
	case "", Dev:
		return startDevKafka(t, name, opts)
	case Apache:
		a := apacheKafka{t: t, name: name}
		aopts := apachekafka.Options{Brokers: opts.Brokers, Secure: opts.Secure, Users: opts.Users, GroupMinSessionTimeout: opts.GroupMinSessionTimeout}
		if opts.Proxied {
			a.proxies = newProxies()
			aopts.Advertise = func(listen string) string { return a.proxies.front(t, listen) }
		}
		a.Cluster = apachekafka.Start(t, name, aopts)
		return a
	default:
		t.Fatalf("%s=%q: use dev (the default) or apache", KindEnv, kind)
		return nil
	}
}

type apacheKafka struct {
	t    testing.TB
	name string
	*apachekafka.Cluster
	proxies *proxies // nil unless Proxied
}

// Bootstrap answers the addresses the brokers advertise: the proxies' when
// there are.
func (a apacheKafka) Bootstrap() []string { return a.Advertised() }

func (a apacheKafka) ClientOpts() []kgo.Opt {
	return a.UserOpts(apachekafka.AdminUser, apachekafka.AdminPassword)
}

func (a apacheKafka) UserOpts(user, password string) []kgo.Opt {
	if a.proxies == nil {
		return a.Cluster.UserOpts(user, password)
	}
	return clientOpts(a.t, a.Certs(), user, password, a.proxies)
}

func (a apacheKafka) Cut()     { a.proxies.cut(a.t) }
func (a apacheKafka) Restore() { a.proxies.restore() }

func (a apacheKafka) Declared() agentapi.Cluster {
	c := agentapi.Cluster{Name: a.name, BootstrapServers: a.Bootstrap()}
	if a.Secure() {
		c.SASL = &agentapi.SASL{Mechanism: apachekafka.Mechanism, Username: apachekafka.AdminUser, Password: apachekafka.AdminPassword}
		c.TLS = &agentapi.TLS{CAPEM: a.CAPEM(), CertPEM: a.ClientCertPEM(), KeyPEM: a.ClientKeyPEM()}
	}
	return c
}

// The super user of a secure dev cluster.
const (
	devAdmin         = "admin"
	devAdminPassword = "admin-secret-pw"
)

// devKafka is a dev cluster on fixed ports with a data directory, so that
// Restart finds it where Kill left it.
type devKafka struct {
	t       testing.TB
	cfg     devcluster.Config
	certs   *testcerts.Certs
	c       *devcluster.Cluster
	proxies *proxies // nil unless Proxied
}

func startDevKafka(t testing.TB, name string, opts ClusterOptions) *devKafka {
	t.Helper()
	d := &devKafka{t: t, cfg: devcluster.Config{Name: name, Brokers: max(opts.Brokers, 1), DataDir: filepath.Join(t.TempDir(), "data")}}
	d.cfg.Listen = FreePorts(t, d.cfg.Brokers)
	if opts.Proxied {
		d.proxies = newProxies()
		for _, broker := range d.brokerAddrs() {
			d.cfg.Advertise = append(d.cfg.Advertise, d.proxies.front(t, broker))
		}
	}
	if opts.Secure {
		var err error
		if d.certs, err = testcerts.New(); err != nil {
			t.Fatal(err)
		}
		server, err := d.certs.ServerTLS()
		if err != nil {
			t.Fatal(err)
		}
		d.cfg.ACLs = true
		d.cfg.Extra = []kfake.Opt{kfake.TLS(server), kfake.EnableSASL(), kfake.Superuser(apachekafka.Mechanism, devAdmin, devAdminPassword)}
		for user, pass := range opts.Users {
			d.cfg.Extra = append(d.cfg.Extra, kfake.User(apachekafka.Mechanism, user, pass))
		}
	}
	if opts.GroupMinSessionTimeout > 0 {
		d.cfg.Extra = append(d.cfg.Extra, kfake.GroupMinSessionTimeout(opts.GroupMinSessionTimeout))
	}
	d.Restart()
	t.Cleanup(d.Kill)
	return d
}

// Bootstrap answers the addresses the brokers advertise: the proxies' when
// there are.
func (d *devKafka) Bootstrap() []string {
	if d.proxies != nil {
		return d.cfg.Advertise
	}
	return d.brokerAddrs()
}

// brokerAddrs answers the addresses the brokers listen on.
func (d *devKafka) brokerAddrs() []string {
	_, port, _ := net.SplitHostPort(d.cfg.Listen)
	first, _ := strconv.Atoi(port)
	out := make([]string, d.cfg.Brokers)
	for i := range out {
		out[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(first+i))
	}
	return out
}

func (d *devKafka) ClientOpts() []kgo.Opt { return d.UserOpts(devAdmin, devAdminPassword) }

func (d *devKafka) UserOpts(user, password string) []kgo.Opt {
	return clientOpts(d.t, d.certs, user, password, d.proxies)
}

func (d *devKafka) Cut()     { d.proxies.cut(d.t) }
func (d *devKafka) Restore() { d.proxies.restore() }

// Dev answers the running kfake cluster (nil while killed).
func (d *devKafka) Dev() *devcluster.Cluster { return d.c }

func (d *devKafka) Declared() agentapi.Cluster {
	c := agentapi.Cluster{Name: d.cfg.Name, BootstrapServers: d.Bootstrap()}
	if d.certs != nil {
		c.SASL = &agentapi.SASL{Mechanism: apachekafka.Mechanism, Username: devAdmin, Password: devAdminPassword}
		c.TLS = &agentapi.TLS{CAPEM: d.certs.CAPEM, CertPEM: d.certs.ClientCertPEM, KeyPEM: d.certs.ClientKeyPEM}
	}
	return c
}

func (d *devKafka) Kill() {
	if d.c != nil {
		d.c.Close()
		d.c = nil
	}
}

func (d *devKafka) Restart() {
	d.t.Helper()
	if d.c != nil {
		return
	}
	c, err := devcluster.Start(d.cfg)
	if err != nil {
		d.t.Fatal(err)
	}
	d.c = c
}

// KcatArgs answers the kcat flags that connect to c, a cluster without
// SASL: kcat on Debian 12 (librdkafka 2.0.2) authenticates with SCRAM to
// neither kind. Apache Kafka 4 refuses its SCRAM proof (librdkafka sent the
// nonce twice until 2.6.1), and kfake does not advertise SaslHandshake v0,
// which librdkafka asks for (see package devcluster).
func KcatArgs(t testing.TB, c Kafka) []string {
	t.Helper()
	if c.Declared().SASL != nil {
		t.Fatalf("kcat cannot authenticate to the secure cluster %s: start it with ClusterOptions{Secure: false}", c.Declared().Name)
	}
	return []string{"-b", strings.Join(c.Bootstrap(), ",")}
}

// CompactedTopicConfigs make a topic that Compact can compact on either
// kind: Apache Kafka's cleaner never touches a partition's active segment,
// so segments roll every 100 ms of record timestamps.
func CompactedTopicConfigs() map[string]*string {
	compact, roll := "compact", "100"
	return map[string]*string{"cleanup.policy": &compact, "segment.ms": &roll}
}

// Compact has c compact topic, made with CompactedTopicConfigs and holding
// written records, and answers what is left once compaction removed some.
// A dev cluster compacts at once; Apache Kafka's cleaner runs on its own,
// within seconds on test clusters (log.cleaner.backoff.ms is 1 s).
func Compact(t testing.TB, c Kafka, topic string, written int) map[int32][]Record {
	t.Helper()
	if d, ok := c.(*devKafka); ok {
		d.c.Compact()
	}
	var left map[int32][]Record
	Eventually(t, time.Minute, "compaction of "+topic, func() (bool, string) {
		left = ReadAll(t, c.Bootstrap(), topic, c.ClientOpts()...)
		n := 0
		for _, recs := range left {
			n += len(recs)
		}
		return n < written, strconv.Itoa(n) + " of " + strconv.Itoa(written) + " records left"
	})
	return left
}

// ClientOf connects to c as its test clients do (the super user of a
// secure cluster); closed when the test ends.
func ClientOf(t testing.TB, c Kafka, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return Client(t, c.Bootstrap(), append(c.ClientOpts(), opts...)...)
}
