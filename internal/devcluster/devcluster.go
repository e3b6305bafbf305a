// Package devcluster runs Kafka-compatible development clusters (franz-go's
// kfake) on loopback. The demo and the tests use them as the embedded default;
// the agent talks to them exactly as it talks to any real Kafka.
//
// Where a dev cluster is known to differ from Apache Kafka, and the test
// that shows it (Apache Kafka is right; add each new finding here):
//   - No authorizer: ACL requests answer SECURITY_DISABLED, as Kafka's do
//     without one, so a planned failover with fencing = "acl" is refused
//     (agent TestFailoverRequestsThatCannotBeDoneAreRefusedWithAReason).
//     Config.ACLs turns kfake's authorizer on (kafkatest's secure clusters).
//   - kfake grows a segment in one byte slice inside its request loop: the
//     dev cluster rolls 8 MiB segments so that growth never stalls it
//     (TestPartitionsRollSmallSegmentsUnlessTheTopicAsksForItsOwn).
//   - kfake drops a partition's aborted transactions when a read_committed
//     fetch fills in the middle of that partition; the dev cluster reshapes
//     such fetches so it never happens (TestReadCommitted* in this package).
//     A consequence: it declines fetch sessions for read_committed fetches.
//   - kfake serves SaslHandshake v1 only, Apache Kafka 4.1 v0 and v1; librdkafka
//     asks for v0 before it authenticates, so kcat cannot use SASL against a
//     dev cluster. Tests read with kcat from plaintext clusters of either
//     kind: Debian 12's kcat (librdkafka 2.0.2) cannot use SCRAM with Apache
//     Kafka 4 either (TestDevClustersDifferFromApacheKafkaAsThePackageDocSays).
//   - kfake takes a new group.min.session.timeout.ms while it runs; Apache
//     Kafka reads it at start only and refuses the change (INVALID_REQUEST,
//     same test).
//   - A wrong SASL password: Apache Kafka answers SASL_AUTHENTICATION_FAILED,
//     kfake closes the connection, so a client (and a mirror's status) sees
//     only EOF (same test).
//   - kfake compacts on a timer set when its first compacted topic appears,
//     every log.cleaner.backoff.ms as configured then (an hour by default);
//     a later change of it does not reschedule. No test shows it yet.
package devcluster

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config describes one development cluster.
type Config struct {
	Name    string // the cluster id returned in metadata
	Listen  string // host:port of the first broker; more brokers take the next ports
	Brokers int    // number of brokers, 1 when zero
	DataDir string // where the cluster keeps its data across restarts; memory only when empty
	// Advertise, when set, holds the host:port that metadata names for
	// each broker instead of the address it listens on: a test's proxy in
	// front of it. kfake names each broker by its listener's address.
	Advertise []string
	// Extra are more kfake options, applied last: tests add SASL and TLS.
	Extra []kfake.Opt
	// ACLs turns kfake's authorizer on: requests are checked against ACLs,
	// which only super users bypass. Without it ACL requests answer
	// SECURITY_DISABLED, as a broker without an authorizer does.
	ACLs bool
}

// SegmentBytes is the clusters' default segment.bytes. kfake keeps a
// segment in one growing byte slice (in memory, or as the write buffer of
// DataDir) and doubles it when full, in its one request loop: with Kafka's
// 1 GiB or kfake's 100 MiB, a busy partition's doubling copied 64 MiB into
// 128 MiB of fresh memory and the whole cluster answered nothing for
// 100-500 ms, several partitions at once. 8 MiB segments keep each growth to
// a few milliseconds; a topic's own segment.bytes still wins.
const SegmentBytes = 8 << 20

// Cluster is a running development cluster.
type Cluster struct {
	*kfake.Cluster
	bootstrap []string
}

// Start starts the cluster and returns once every broker listens.
func Start(cfg Config) (*Cluster, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("--name is required: give the cluster a name such as north-america")
	}
	host, portText, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q is not host:port (for example 127.0.0.1:9092): %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("--listen %q: the port must be a number from 0 to 65535", cfg.Listen)
	}
	brokers := cfg.Brokers
	if brokers == 0 {
		brokers = 1
	}
	if brokers < 1 || brokers > 16 {
		return nil, fmt.Errorf("--brokers %d: choose from 1 to 16 brokers", cfg.Brokers)
	}
	if port == 0 && brokers > 1 {
		return nil, fmt.Errorf("--listen %q: give a fixed port when --brokers is more than 1, the extra brokers take the next ports", cfg.Listen)
	}

	if len(cfg.Advertise) != 0 && len(cfg.Advertise) != brokers {
		return nil, fmt.Errorf("advertise %d addresses for %d brokers: give one per broker", len(cfg.Advertise), brokers)
	}
	listened := 0 // kfake starts its brokers one after the other
	opts := []kfake.Opt{
		kfake.ClusterID(cfg.Name),
		kfake.NumBrokers(brokers),
		// kfake binds 127.0.0.1; bind the host the user asked for instead.
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, p, _ := net.SplitHostPort(addr)
			ln, err := net.Listen(network, net.JoinHostPort(host, p))
			if err != nil || listened >= len(cfg.Advertise) {
				return ln, err
			}
			listened++
			return advertised{ln, cfg.Advertise[listened-1]}, nil
		}),
		kfake.DefaultNumPartitions(1),
		// Consumers of the sample applications rejoin quickly after a failover.
		kfake.GroupMinSessionTimeout(500 * time.Millisecond),
		kfake.BrokerConfigs(map[string]string{"log.segment.bytes": strconv.Itoa(SegmentBytes)}),
	}
	if port != 0 {
		ports := make([]int, brokers)
		for i := range ports {
			ports[i] = port + i
		}
		opts = append(opts, kfake.Ports(ports...))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.ACLs {
		opts = append(opts, kfake.EnableACLs())
	}
	kc, err := kfake.NewCluster(append(opts, cfg.Extra...)...)
	if err != nil {
		return nil, fmt.Errorf("start development cluster %q on %s: %w", cfg.Name, cfg.Listen, err)
	}
	if !cfg.ACLs {
		withoutAuthorizer(kc)
	}
	readCommittedWholePartitions(kc)
	return &Cluster{Cluster: kc, bootstrap: kc.ListenAddrs()}, nil
}

// advertised is a listener that names another address, which kfake then
// hands to clients in metadata.
type advertised struct {
	net.Listener
	addr string
}

func (a advertised) Addr() net.Addr { return advertisedAddr(a.addr) }

type advertisedAddr string

func (advertisedAddr) Network() string  { return "tcp" }
func (a advertisedAddr) String() string { return string(a) }

// withoutAuthorizer makes ACL requests answer SECURITY_DISABLED, as a Kafka
// broker without an authorizer does. kfake would store ACLs it never
// enforces, and a fence that silently does nothing is the worst answer a
// planned failover could get.
func withoutAuthorizer(kc *kfake.Cluster) {
	disabled := kerr.SecurityDisabled.Code
	for _, key := range []kmsg.Key{kmsg.CreateACLs, kmsg.DescribeACLs, kmsg.DeleteACLs} {
		kc.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
			kc.KeepControl()
			switch req := req.(type) {
			case *kmsg.CreateACLsRequest:
				resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
				for range req.Creations {
					r := kmsg.NewCreateACLsResponseResult()
					r.ErrorCode = disabled
					resp.Results = append(resp.Results, r)
				}
				return resp, nil, true
			case *kmsg.DeleteACLsRequest:
				resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
				for range req.Filters {
					r := kmsg.NewDeleteACLsResponseResult()
					r.ErrorCode = disabled
					resp.Results = append(resp.Results, r)
				}
				return resp, nil, true
			case *kmsg.DescribeACLsRequest:
				resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
				resp.ErrorCode = disabled
				return resp, nil, true
			}
			return nil, nil, false
		})
	}
}

// readCommittedWholePartitions keeps kfake from stopping a read_committed
// fetch in the middle of a partition: when a response fills the request's
// MaxBytes there, kfake leaves out that partition's aborted transactions and
// the consumer delivers aborted records as committed (a mirror task, with
// more than eight busy partitions, copied them). Before kfake handles such a
// fetch, each partition's limit is scaled so that together they fit the
// request's, and the request's own limit is lifted: a partition then ends
// at its own limit, where kfake does look its aborted transactions up. The
// response stays within the client's limit, but for the first batch, which
// Kafka also returns whatever its size. Fetch sessions are declined (as a
// broker whose session cache is full does), so every request lists all its
// partitions and the scaling sees them.
func readCommittedWholePartitions(kc *kfake.Cluster) {
	kc.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		fetch, ok := req.(*kmsg.FetchRequest)
		if !ok || fetch.IsolationLevel != 1 || fetch.Version < 4 {
			return nil, nil, false
		}
		if fetch.SessionEpoch == 0 {
			fetch.SessionEpoch = -1 // a full fetch that opens no session
		}
		var sum int64
		for _, t := range fetch.Topics {
			for _, p := range t.Partitions {
				sum += int64(max(p.PartitionMaxBytes, 0))
			}
		}
		if limit := int64(fetch.MaxBytes); sum > limit {
			for i := range fetch.Topics {
				for j := range fetch.Topics[i].Partitions {
					p := &fetch.Topics[i].Partitions[j]
					p.PartitionMaxBytes = int32(int64(p.PartitionMaxBytes) * limit / sum)
				}
			}
		}
		fetch.MaxBytes = math.MaxInt32
		return nil, nil, false
	})
}

// Bootstrap returns the brokers' addresses, for bootstrap_servers.
func (c *Cluster) Bootstrap() []string { return c.bootstrap }

// BootstrapString returns the addresses comma separated, as Kafka tools take them.
func (c *Cluster) BootstrapString() string { return strings.Join(c.bootstrap, ",") }
