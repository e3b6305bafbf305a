// Package kafkatest is the test harness: development clusters on loopback,
// agent processes a test can kill, and helpers that write and read whole
// topics over TCP with franz-go.
package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/kafka-failover/kafka-failover/internal/devcluster"
)

// Cluster starts a development cluster on a free loopback port, closed when
// the test ends.
func Cluster(t testing.TB, name string) *devcluster.Cluster {
	t.Helper()
	c, err := devcluster.Start(devcluster.Config{Name: name, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Client connects to bootstrap; closed when the test ends.
func Client(t testing.TB, bootstrap []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(bootstrap...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// SASLCluster starts a kfake cluster on loopback that demands SCRAM-SHA-512
// authentication as user/pass, closed when the test ends.
func SASLCluster(t testing.TB, name, user, pass string) (*kfake.Cluster, []kgo.Opt) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.ClusterID(name), kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", user, pass))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, []kgo.Opt{kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())}
}

// CreateTopic creates a topic with the given partitions.
func CreateTopic(t testing.TB, bootstrap []string, topic string, partitions int32, configs map[string]*string, opts ...kgo.Opt) {
	t.Helper()
	adm := kadm.NewClient(Client(t, bootstrap, opts...))
	resp, err := adm.CreateTopic(context.Background(), partitions, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// AddPartitions grows a topic by n partitions.
func AddPartitions(t testing.TB, bootstrap []string, topic string, n int, opts ...kgo.Opt) {
	t.Helper()
	adm := kadm.NewClient(Client(t, bootstrap, opts...))
	resp, err := adm.CreatePartitions(context.Background(), n, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("add %d partitions to %s: %v", n, topic, err)
	}
}

// Record is what a mirrored record must keep.
type Record struct {
	Key, Value []byte
	Headers    []kgo.RecordHeader
	Timestamp  time.Time
	Offset     int64
}

// Equal compares everything but the offset.
func (r Record) Equal(o Record) bool {
	if string(r.Key) != string(o.Key) || string(r.Value) != string(o.Value) || (r.Key == nil) != (o.Key == nil) ||
		!r.Timestamp.Equal(o.Timestamp) || len(r.Headers) != len(o.Headers) {
		return false
	}
	for i := range r.Headers {
		if r.Headers[i].Key != o.Headers[i].Key || string(r.Headers[i].Value) != string(o.Headers[i].Value) {
			return false
		}
	}
	return true
}

// ReadAll reads every committed record of a topic, per partition, up to the
// end offsets it finds when called.
func ReadAll(t testing.TB, bootstrap []string, topic string, opts ...kgo.Opt) map[int32][]Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Its clients close on return: a test that polls a topic with ReadAll
	// does not pile them up.
	admCl := Client(t, bootstrap, opts...)
	defer admCl.Close()
	ends, err := kadm.NewClient(admCl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	starts := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		starts[o.Partition] = kgo.NewOffset().AtStart()
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	out := map[int32][]Record{}
	for p := range starts {
		out[p] = nil
	}
	if len(want) == 0 {
		return out
	}
	cl := Client(t, bootstrap, append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come back too, so that a partition ending
		// in a marker is known to be read to its end.
		kgo.KeepControlRecords(),
	)...)
	defer cl.Close()
	for len(want) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: timed out with partitions %v unfinished", topic, want)
		}
		fetches.EachError(func(_ string, p int32, err error) { t.Fatalf("reading %s[%d]: %v", topic, p, err) })
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			for _, r := range fp.Records {
				if !r.Attrs.IsControl() {
					out[r.Partition] = append(out[r.Partition], Record{Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp, Offset: r.Offset})
				}
				if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
					delete(want, r.Partition)
				}
			}
		})
	}
	return out
}

// Eventually polls cond every 100ms until it holds or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not true after %s; last seen: %s", what, timeout, last)
}

// Sprint formats a partition count summary for failure messages.
func Sprint(m map[int32][]Record) string {
	s := ""
	for p := int32(0); p < int32(len(m)); p++ {
		s += fmt.Sprintf("p%d=%d ", p, len(m[p]))
	}
	return s
}

// TopicExists reports whether the cluster has the topic.
func TopicExists(t testing.TB, bootstrap []string, topic string, opts ...kgo.Opt) bool {
	t.Helper()
	td, err := kadm.NewClient(Client(t, bootstrap, opts...)).ListTopics(context.Background(), topic)
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	return td.Has(topic) && td[topic].Err == nil
}

// ACLCluster starts a kfake cluster with SCRAM-SHA-512 and an authorizer:
// admin is a superuser (ACLs do not apply to it), app may do anything an
// ACL does not deny. It answers the address and both users' client options.
func ACLCluster(t testing.TB, name string) (bootstrap []string, admin, app []kgo.Opt) {
	t.Helper()
	var allow []kfake.ACL
	for _, res := range []kmsg.ACLResourceType{kmsg.ACLResourceTypeTopic, kmsg.ACLResourceTypeGroup, kmsg.ACLResourceTypeCluster, kmsg.ACLResourceTypeTransactionalId} {
		name := "*"
		if res == kmsg.ACLResourceTypeCluster {
			name = "kafka-cluster"
		}
		allow = append(allow, kfake.ACL{Resource: res, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationAll, Allow: true})
	}
	c, err := kfake.NewCluster(kfake.ClusterID(name), kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-512", "admin", "admin-secret-pw"),
		kfake.User("SCRAM-SHA-512", "app", "app-secret-pw", allow...),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs(),
		[]kgo.Opt{kgo.SASL(scram.Auth{User: "admin", Pass: "admin-secret-pw"}.AsSha512Mechanism())},
		[]kgo.Opt{kgo.SASL(scram.Auth{User: "app", Pass: "app-secret-pw"}.AsSha512Mechanism())}
}
