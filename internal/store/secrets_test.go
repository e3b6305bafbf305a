package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

func testSealer(t *testing.T) *Sealer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(path, []byte("store-test-key-0123456789abcdef-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSealer(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeUnbound writes a cluster record as agents before the binding did:
// secrets sealed without additional data.
func writeUnbound(t *testing.T, sealer *Sealer, bootstrap []string, c agentapi.Cluster, password string) {
	t.Helper()
	sealed, err := sealer.Seal(password, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SASL = &agentapi.SASL{Mechanism: "PLAIN", Username: "mirror", PasswordSet: true}
	value, _ := json.Marshal(storedCluster{Cluster: c, SealedPassword: sealed})
	r := &kgo.Record{Topic: StateTopic, Key: []byte(kindCluster + c.Name), Value: value}
	if err := kafkatest.Client(t, bootstrap).ProduceSync(context.Background(), r).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// compactAndReplay compacts the state topic, tombstones included, and opens
// a replica that replays it, closed when the test ends.
func compactAndReplay(t *testing.T, state *devcluster.Cluster, conn kafkaconn.Conn, sealer *Sealer) *Store {
	t.Helper()
	compact(t, state, kadm.NewClient(kafkatest.Client(t, state.Bootstrap())), true)
	replay, err := Open(context.Background(), conn, sealer)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(replay.Close)
	return replay
}

func passwordOf(t *testing.T, s *Store, cluster string) (string, []string) {
	t.Helper()
	conn, err := s.Conn(cluster)
	if err != nil {
		t.Fatalf("cluster %s: %v", cluster, err)
	}
	return conn.SASLPassword, conn.BootstrapServers
}

// Replicas that start together on a state topic sealed the old way all
// re-seal it; an update written meanwhile is not undone, and the compacted
// topic replays to the same clusters, every secret bound.
func TestReplicasStartingAtOnceBindTheSecretsAndUndoNoUpdateMadeMeanwhile(t *testing.T) {
	ctx := context.Background()
	state := kafkatest.Cluster(t, "state")
	conn := kafkaconn.Conn{Name: "state", BootstrapServers: state.Bootstrap()}
	sealer := testSealer(t)
	first, err := Open(ctx, conn, sealer) // creates the topic; binds nothing yet
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	names := []string{"na", "sa", "eu", "ap"}
	for _, n := range names {
		writeUnbound(t, sealer, state.Bootstrap(), agentapi.Cluster{Name: n, BootstrapServers: []string{n + "-kafka:9092"}}, "pw-of-"+n)
	}
	if err := first.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	const replicas = 4
	stores := make([]*Store, replicas)
	errs := make([]error, replicas+1)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if stores[i], errs[i] = Open(ctx, conn, sealer); errs[i] == nil {
				_, _, errs[i] = stores[i].BindSecrets(ctx)
			}
		}()
	}
	// Meanwhile a PUT moves sa, with its new password.
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _, errs[replicas] = first.PutCluster(ctx, agentapi.Cluster{Name: "sa", BootstrapServers: []string{"sa-kafka-2:9092"}, SASL: &agentapi.SASL{Mechanism: "PLAIN", Username: "mirror", Password: "new-pw-of-sa"}})
	}()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	for _, s := range stores {
		defer s.Close()
	}
	check := func(what string, s *Store) {
		t.Helper()
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			want, wantServer := "pw-of-"+n, n+"-kafka:9092"
			if n == "sa" {
				want, wantServer = "new-pw-of-sa", "sa-kafka-2:9092"
			}
			if pw, servers := passwordOf(t, s, n); pw != want || servers[0] != wantServer {
				t.Errorf("%s: cluster %s answers password %q at %v, want %q at %s", what, n, pw, servers, want, wantServer)
			}
		}
	}
	for i, s := range stores {
		check(fmt.Sprint("replica ", i), s)
	}
	replay := compactAndReplay(t, state, conn, sealer)
	check("a replica replaying the compacted topic", replay)
	if diff := stateDiff(first, replay); diff != "" {
		t.Errorf("the replaying replica differs: %s", diff)
	}
	if !replay.secretsBound {
		t.Error("the state topic holds no mark that its secrets are bound")
	}
}

// A re-seal applies over the record it was made from, also when compaction
// left it alone. One made from a record that an update or a delete replaced
// does not apply, and its writer leaves the key as it stands: the compacted
// topic replays to the update or to nothing, never to the re-sealed old
// record.
func TestAReSealAppliesOnlyOverTheRecordItWasMadeFromBeforeAndAfterCompaction(t *testing.T) {
	ctx := context.Background()
	state := kafkatest.Cluster(t, "state")
	conn := kafkaconn.Conn{Name: "state", BootstrapServers: state.Bootstrap()}
	sealer := testSealer(t)
	s, err := Open(ctx, conn, sealer)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, n := range []string{"updated", "deleted", "resealed"} {
		writeUnbound(t, sealer, state.Bootstrap(), agentapi.Cluster{Name: n, BootstrapServers: []string{"old-kafka:9092"}}, "old-pw")
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	stale := map[string][]byte{}
	staleAt := map[string]int64{}
	for _, n := range []string{"updated", "deleted"} {
		s.mu.Lock()
		c, at := s.clusters[n], s.clusterAt[n]
		s.mu.Unlock()
		if stale[n], err = s.rebound(c); err != nil {
			t.Fatal(err)
		}
		staleAt[n] = at
	}
	if _, _, err := s.PutCluster(ctx, agentapi.Cluster{Name: "updated", BootstrapServers: []string{"new-kafka:9092"}, SASL: &agentapi.SASL{Mechanism: "PLAIN", Username: "mirror", Password: "new-pw"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCluster(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"updated", "deleted"} {
		applied, err := s.putIf(ctx, kindCluster+n, stale[n], kgo.RecordHeader{Key: headerReseals, Value: []byte(strconv.FormatInt(staleAt[n], 10))})
		if err != nil || applied {
			t.Fatalf("stale re-seal of %s: applied %v, %v; want refused", n, applied, err)
		}
	}
	if resealed, failed, err := s.BindSecrets(ctx); err != nil || len(failed) > 0 || len(resealed) != 1 {
		t.Fatalf("BindSecrets: re-sealed %v, failed %v, %v; want cluster resealed re-sealed", resealed, failed, err)
	}
	check := func(what string, s *Store) {
		t.Helper()
		if pw, servers := passwordOf(t, s, "updated"); pw != "new-pw" || servers[0] != "new-kafka:9092" {
			t.Errorf("%s: cluster updated answers %q at %v, want the update", what, pw, servers)
		}
		if pw, _ := passwordOf(t, s, "resealed"); pw != "old-pw" {
			t.Errorf("%s: cluster resealed answers %q, want its password", what, pw)
		}
		if _, err := s.GetCluster("deleted"); err != ErrNotFound {
			t.Errorf("%s: cluster deleted answers %v, want not found", what, err)
		}
	}
	check("the writer", s)
	replay := compactAndReplay(t, state, conn, sealer)
	check("a replica replaying the compacted topic", replay)
}
