// Package apachekafka starts Apache Kafka clusters for tests: KRaft nodes
// that are broker and controller at once, each a Java process on loopback
// with its data in the test's temporary directory. The jars come from
// scripts/fetch-kafka.sh; without them a test that asks for a cluster is
// skipped and says why.
//
// A secure cluster listens with SASL_SSL only (SCRAM-SHA-512, certificates
// made by the test) and authorizes with Kafka's StandardAuthorizer, so that
// ACLs are checked the way production brokers check them.
package apachekafka

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest/testcerts"
)

// LibsEnv names the environment variable that holds the jar directory;
// `make test` sets it from scripts/ensure-tools.sh.
const LibsEnv = "KFO_KAFKA_LIBS"

// Version is the Apache Kafka release scripts/fetch-kafka.sh fetches.
const Version = "4.1.1"

// Mechanism is the SASL mechanism of secure clusters.
const Mechanism = "SCRAM-SHA-512"

// The super user of a secure cluster: ACLs do not apply to it.
const (
	AdminUser     = "admin"
	AdminPassword = "admin-secret-pw"
)

// Options shape a cluster.
type Options struct {
	// Brokers is the number of nodes, each broker and controller; 1 when 0.
	Brokers int
	// Secure listens with SASL_SSL (SCRAM-SHA-512) and turns the
	// StandardAuthorizer on, with AdminUser as the super user.
	Secure bool
	// Users are more SCRAM users (name -> password) of a secure cluster;
	// they may do only what ACLs allow.
	Users map[string]string
	// GroupMinSessionTimeout is group.min.session.timeout.ms; 0 is the
	// tests' 500 ms (Apache Kafka's own default is 6 s).
	GroupMinSessionTimeout time.Duration
	// Advertise, when set, answers the address a node's client listener,
	// listening on listen, is advertised at (a proxy in front of it):
	// clients that learn addresses from metadata go through it. The
	// nodes then talk to each other on a listener of their own, so that
	// cutting a proxy cuts clients only.
	Advertise func(listen string) string
}

// Cluster is a running Apache Kafka cluster.
type Cluster struct {
	t     testing.TB
	name  string
	libs  string
	opts  Options
	certs *testcerts.Certs // nil unless secure
	nodes []*node
}

// node is one KRaft process: broker and controller.
type node struct {
	id                     int
	dir                    string
	brokerAddr, controller string
	// advertised is where clients are told brokerAddr is; internal is the
	// nodes' own listener when advertised is a proxy ("" otherwise).
	advertised, internal string
	mu                   sync.Mutex
	cmd                  *exec.Cmd
	exited               chan struct{} // closed when cmd has been waited for
}

// Libs answers the directory of Apache Kafka's jars: $KFO_KAFKA_LIBS, or
// where scripts/fetch-kafka.sh puts them by default. It answers "" and the
// reason when they are not installed.
func Libs() (string, string) {
	if dir := os.Getenv(LibsEnv); dir != "" {
		return dir, ""
	}
	tools := os.Getenv("KFO_TOOLS_DIR")
	if tools == "" {
		home, _ := os.UserHomeDir()
		tools = filepath.Join(home, ".cache", "kafka-failover", "tools")
	}
	dir := filepath.Join(tools, "kafka-"+Version, "libs")
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		return "", fmt.Sprintf("Apache Kafka is not installed: %s is unset and %s holds no finished fetch; run scripts/fetch-kafka.sh (make test does)", LibsEnv, dir)
	}
	return dir, ""
}

// Start formats and starts a cluster named name, stopped when the test
// ends. The test is skipped when Apache Kafka's jars are not installed.
func Start(t testing.TB, name string, opts Options) *Cluster {
	t.Helper()
	libs, why := Libs()
	if libs == "" {
		t.Skip(why)
	}
	if _, err := os.Stat(filepath.Join(libs, "kafka_2.13-"+Version+".jar")); err != nil {
		t.Fatalf("%s=%s does not hold Apache Kafka %s's jars: %v", LibsEnv, libs, Version, err)
	}
	if opts.Brokers == 0 {
		opts.Brokers = 1
	}
	c := &Cluster{t: t, name: name, libs: libs, opts: opts}
	if opts.Secure {
		var err error
		if c.certs, err = testcerts.New(); err != nil {
			t.Fatalf("test certificates: %v", err)
		}
	}
	dir := t.TempDir()
	for i := range opts.Brokers {
		n := &node{id: i + 1, dir: filepath.Join(dir, fmt.Sprintf("node-%d", i+1)), brokerAddr: freeAddr(t), controller: freeAddr(t)}
		n.advertised = n.brokerAddr
		if opts.Advertise != nil {
			n.advertised, n.internal = opts.Advertise(n.brokerAddr), freeAddr(t)
		}
		c.nodes = append(c.nodes, n)
	}
	t.Cleanup(c.stop)
	began := time.Now()
	if err := c.writeFiles(); err != nil {
		t.Fatal(err)
	}
	c.format()
	formatted := time.Now()
	for _, n := range c.nodes {
		c.startNode(n)
	}
	c.waitReady()
	t.Logf("Apache Kafka %s cluster %s (%d node(s), secure=%v) ready at %s (advertised as %s) in %s (format %s)",
		Version, name, opts.Brokers, opts.Secure, strings.Join(c.Bootstrap(), ","), strings.Join(c.Advertised(), ","),
		time.Since(began).Round(time.Millisecond), formatted.Sub(began).Round(time.Millisecond))
	return c
}

// Bootstrap answers the addresses the brokers' client listeners listen on.
func (c *Cluster) Bootstrap() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.brokerAddr
	}
	return out
}

// Advertised answers the addresses metadata names for the client listeners:
// Bootstrap's, unless Options.Advertise gave others.
func (c *Cluster) Advertised() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.advertised
	}
	return out
}

// Certs answers the certificates of a secure cluster (nil otherwise).
func (c *Cluster) Certs() *testcerts.Certs { return c.certs }

// ClientOpts answers the franz-go options that connect as the super user:
// TLS trusting the test CA, with the client certificate, and SCRAM. They
// hold no seed brokers.
func (c *Cluster) ClientOpts() []kgo.Opt { return c.UserOpts(AdminUser, AdminPassword) }

// UserOpts is ClientOpts for another user of a secure cluster.
func (c *Cluster) UserOpts(user, password string) []kgo.Opt {
	if c.certs == nil {
		return nil
	}
	cfg, err := c.certs.ClientTLS()
	if err != nil {
		c.t.Fatal(err)
	}
	return []kgo.Opt{
		kgo.DialTLSConfig(cfg),
		kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha512Mechanism()),
	}
}

// Secure reports whether the cluster listens with SASL_SSL.
func (c *Cluster) Secure() bool { return c.certs != nil }

// CAPEM answers the CA certificate that signed the brokers' certificate.
func (c *Cluster) CAPEM() string { return c.certs.CAPEM }

// ClientCertPEM and ClientKeyPEM answer a client certificate the brokers
// accept (they request one; SASL still decides who the client is).
func (c *Cluster) ClientCertPEM() string { return c.certs.ClientCertPEM }

// ClientKeyPEM is the key of ClientCertPEM.
func (c *Cluster) ClientKeyPEM() string { return c.certs.ClientKeyPEM }

// Kill ends every node with SIGKILL, the way a region is lost.
func (c *Cluster) Kill() {
	for _, n := range c.nodes {
		n.signal(syscall.SIGKILL)
		<-n.exitedChan()
	}
}

// KillNode ends node i (0-based) with SIGKILL.
func (c *Cluster) KillNode(i int) {
	c.nodes[i].signal(syscall.SIGKILL)
	<-c.nodes[i].exitedChan()
}

// Restart starts every node that is not running, on the same addresses and
// data, and waits until the cluster answers.
func (c *Cluster) Restart() {
	c.t.Helper()
	for _, n := range c.nodes {
		if !n.running() {
			c.startNode(n)
		}
	}
	c.waitReady()
}

// stop ends every node: SIGTERM, then SIGKILL if it has not stopped in time.
func (c *Cluster) stop() {
	for _, n := range c.nodes {
		n.signal(syscall.SIGTERM)
	}
	deadline := time.After(20 * time.Second)
	for _, n := range c.nodes {
		select {
		case <-n.exitedChan():
		case <-deadline:
			n.signal(syscall.SIGKILL)
			<-n.exitedChan()
		}
	}
	if c.t.Failed() {
		for _, n := range c.nodes {
			c.t.Logf("Apache Kafka %s node %d log (%s):\n%s", c.name, n.id, n.logPath(), TailFile(n.logPath(), 8<<10))
		}
	}
}

func (c *Cluster) writeFiles() error {
	for _, n := range c.nodes {
		if err := os.MkdirAll(filepath.Join(n.dir, "data"), 0o700); err != nil {
			return err
		}
		files := map[string]string{
			"server.properties": c.serverProperties(n),
			"log4j2.properties": Log4jProperties(n.logPath()),
		}
		if c.certs != nil {
			files["broker.pem"] = c.certs.ServerKeyPEM + c.certs.ServerCertPEM
			files["ca.pem"] = c.certs.CAPEM
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(n.dir, name), []byte(text), 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Cluster) serverProperties(n *node) string {
	var voters []string
	for _, o := range c.nodes {
		voters = append(voters, fmt.Sprintf("%d@%s", o.id, o.controller))
	}
	// Internal topics are replicated as far as the cluster allows, and a
	// write needs all but one replica, as in production.
	rf := min(len(c.nodes), 3)
	minISR := max(rf-1, 1)
	listener := "PLAINTEXT"
	if c.certs != nil {
		listener = "SASL_SSL"
	}
	listeners := fmt.Sprintf("listeners=%s://%s,CONTROLLER://%s", listener, n.brokerAddr, n.controller)
	advertised := fmt.Sprintf("advertised.listeners=%s://%s", listener, n.advertised)
	interBroker := listener
	if n.internal != "" {
		// Replication and transaction markers must not go through the
		// clients' proxy, which a test cuts: plaintext on loopback, as
		// the controller listener (ANONYMOUS is a super user).
		listeners += ",INTERNAL://" + n.internal
		advertised += ",INTERNAL://" + n.internal
		interBroker = "INTERNAL"
	}
	p := []string{
		"process.roles=broker,controller",
		fmt.Sprintf("node.id=%d", n.id),
		"controller.quorum.voters=" + strings.Join(voters, ","),
		listeners,
		advertised,
		"controller.listener.names=CONTROLLER",
		"inter.broker.listener.name=" + interBroker,
		"listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT",
		"log.dirs=" + filepath.Join(n.dir, "data"),
		"num.partitions=1",
		"default.replication.factor=" + strconv.Itoa(rf),
		"min.insync.replicas=1",
		"offsets.topic.replication.factor=" + strconv.Itoa(rf),
		"offsets.topic.num.partitions=5",
		"transaction.state.log.replication.factor=" + strconv.Itoa(rf),
		"transaction.state.log.min.isr=" + strconv.Itoa(minISR),
		"transaction.state.log.num.partitions=5",
		"share.coordinator.state.topic.replication.factor=" + strconv.Itoa(rf),
		"share.coordinator.state.topic.min.isr=" + strconv.Itoa(minISR),
		"group.initial.rebalance.delay.ms=0",
		// As on dev clusters: tests run agents with short sessions (the
		// broker's default floor is 6 s).
		fmt.Sprintf("group.min.session.timeout.ms=%d", cmp.Or(c.opts.GroupMinSessionTimeout, 500*time.Millisecond).Milliseconds()),
		"num.network.threads=2",
		"num.io.threads=2",
		"background.threads=2",
		"num.recovery.threads.per.data.dir=1",
		"log.cleaner.threads=1",
		// The cleaner looks for dirty compacted logs every second instead
		// of every 15: a test waits for compaction seconds, not minutes.
		"log.cleaner.backoff.ms=1000",
		"log.cleaner.dedupe.buffer.size=2097152",
		"auto.create.topics.enable=false",
		// A killed node registers again once its old session has expired.
		"broker.session.timeout.ms=3000",
		"broker.heartbeat.interval.ms=500",
	}
	if c.certs != nil {
		pem := filepath.Join(n.dir, "broker.pem")
		jaas := fmt.Sprintf(`org.apache.kafka.common.security.scram.ScramLoginModule required username="%s" password="%s";`, AdminUser, AdminPassword)
		p = append(p,
			"sasl.enabled.mechanisms="+Mechanism,
			"sasl.mechanism.inter.broker.protocol="+Mechanism,
			"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="+jaas,
			"ssl.keystore.type=PEM",
			"ssl.keystore.location="+pem,
			"ssl.truststore.type=PEM",
			"ssl.truststore.location="+filepath.Join(n.dir, "ca.pem"),
			"ssl.client.auth=requested",
			"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
			// The controller listener is plaintext on loopback (KRaft
			// controllers cannot use SCRAM): its ANONYMOUS peers are the
			// nodes themselves.
			"super.users=User:"+AdminUser+";User:ANONYMOUS",
		)
	}
	return strings.Join(p, "\n") + "\n"
}

// Log4jProperties is a log4j2 configuration that writes INFO and above to
// file, without the config dumps and request logs.
func Log4jProperties(file string) string {
	return strings.Join([]string{
		"status = error",
		"appender.file.type = File",
		"appender.file.name = file",
		"appender.file.fileName = " + file,
		"appender.file.layout.type = PatternLayout",
		"appender.file.layout.pattern = [%d] %p %m (%c)%n",
		"rootLogger.level = INFO",
		"rootLogger.appenderRef.file.ref = file",
		// Config dumps, the request logger and the state change log say
		// too much for a test.
		"logger.config.name = org.apache.kafka.common.config.AbstractConfig",
		"logger.config.level = WARN",
		"logger.request.name = kafka.request.logger",
		"logger.request.level = WARN",
		"logger.state.name = state.change.logger",
		"logger.state.level = WARN",
	}, "\n") + "\n"
}

func (n *node) logPath() string { return filepath.Join(n.dir, "server.log") }

// java answers a command that runs class with Apache Kafka on the class path.
func (c *Cluster) java(n *node, class string, args ...string) *exec.Cmd {
	jvm := []string{
		"-Xmx256m", "-Xms64m",
		// Quick to start and light on a small shared machine.
		"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
		"-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile=" + filepath.Join(n.dir, "log4j2.properties"),
		"-cp", filepath.Join(c.libs, "*"),
		class,
	}
	cmd := exec.Command("java", append(jvm, args...)...)
	dieWithTest(cmd)
	return cmd
}

// format writes each node's storage with the cluster id and, for a secure
// cluster, the SCRAM credentials; the nodes are formatted side by side.
func (c *Cluster) format() {
	c.t.Helper()
	clusterID := newClusterID()
	args := []string{"format", "--config", "", "--cluster-id", clusterID}
	if c.certs != nil {
		args = append(args, "--add-scram", fmt.Sprintf("%s=[name=%s,password=%s]", Mechanism, AdminUser, AdminPassword))
		for user, pass := range c.opts.Users {
			args = append(args, "--add-scram", fmt.Sprintf("%s=[name=%s,password=%s]", Mechanism, user, pass))
		}
	}
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := append([]string(nil), args...)
			a[2] = filepath.Join(n.dir, "server.properties")
			if out, err := c.java(n, "kafka.tools.StorageTool", a...).CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("format node %d: %v\n%s", n.id, err, out)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.t.Fatal(err)
	}
}

// newClusterID answers a random Kafka UUID in base64; like Kafka's own, it
// never starts with '-', which the storage tool would take for a flag.
func newClusterID() string {
	for {
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		if s := base64.RawURLEncoding.EncodeToString(id); s[0] != '-' {
			return s
		}
	}
}

func (c *Cluster) startNode(n *node) {
	c.t.Helper()
	console, err := os.OpenFile(filepath.Join(n.dir, "console.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer console.Close()
	cmd := c.java(n, "kafka.Kafka", filepath.Join(n.dir, "server.properties"))
	cmd.Stdout, cmd.Stderr = console, console
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start Apache Kafka node %d: %v", n.id, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
}

func (n *node) signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		_ = n.cmd.Process.Signal(sig)
	}
}

// exitedChan is closed once the node's process has ended (at once when it
// never started).
func (n *node) exitedChan() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exited == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return n.exited
}

func (n *node) running() bool {
	select {
	case <-n.exitedChan():
		return false
	default:
		return true
	}
}

// waitReady waits until every running node is listed in the metadata a
// client gets over the cluster's own listener, failing at once when a node
// exits.
func (c *Cluster) waitReady() {
	c.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...)}, c.ClientOpts()...)...)
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var live []*node
	for _, n := range c.nodes {
		if n.running() {
			live = append(live, n)
		}
	}
	want := len(live)
	deadline := time.Now().Add(2 * time.Minute)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		for _, n := range live {
			if !n.running() {
				c.t.Fatalf("Apache Kafka node %d exited while starting; log:\n%s\nconsole:\n%s", n.id,
					TailFile(n.logPath(), 8<<10), TailFile(filepath.Join(n.dir, "console.log"), 4<<10))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		md, err := adm.BrokerMetadata(ctx)
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case len(md.Brokers) < want:
			last = fmt.Sprintf("%d of %d brokers registered", len(md.Brokers), want)
		default:
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("Apache Kafka cluster %s did not answer within 2m; last: %s; node 1 log:\n%s", c.name, last, TailFile(c.nodes[0].logPath(), 8<<10))
}

func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TailFile answers the last n bytes of the file at path, or why it cannot.
func TailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
