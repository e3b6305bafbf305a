// Package store keeps the agent's desired state (clusters and mirrors) in the
// compacted topic __kfo_state on the state cluster. Every agent replica tails
// the topic, so the topic is the single source of truth and any replica can
// answer the API; a write returns only once this replica has read it back.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/policy"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
	"github.com/kafka-failover/kafka-failover/internal/undecodable"
)

// StateTopic holds the desired state; one partition keeps a total order.
const StateTopic = "__kfo_state"

const (
	kindCluster  = "cluster/"
	kindMirror   = "mirror/"
	kindPolicy   = "policy/"
	kindFailover = "failover/" // failover ops, one unique key each: the audit trail
	// kindForgotten marks a cluster whose divergence was forgotten with its
	// policy: nothing is mirrored from or into it until it is deleted.
	kindForgotten = "forgotten/"
	// kindRetired keys what a deleted mirror left on its target:
	// retired/<mirror>/<target> (names hold no '/').
	kindRetired = "retired/"
	barrierKey  = "barrier"
	// kindFormat keys the switch to a record format version:
	// format/<version>, one key each, so that compaction keeps the highest.
	kindFormat = "format/"
)

// ErrNotFound is returned for a name that is not stored.
var ErrNotFound = errors.New("not found")

// ForgottenDivergence is a diverged cluster whose policy was deleted with
// forget_diverged. The cluster may still hold records never mirrored: if it
// came back, a mirror from it would copy them into the active cluster's
// topics, and one into it would mix the two. Its mirrors stay stopped until
// the cluster is deleted from the agent (and declared again).
type ForgottenDivergence struct {
	Cluster string    `json:"cluster"`
	Policy  string    `json:"policy"`
	Epoch   int64     `json:"epoch"` // of the forced failover that left it behind
	At      time.Time `json:"at"`
}

// RetiredMirror is what a deleted mirror left behind on its target: offset
// syncs that say where each partition of its source stands. A mirror of the
// same name created again into that target resumes from them, so it must
// copy the same source under the same replication policy.
type RetiredMirror struct {
	Mirror            string    `json:"mirror"`
	Source            string    `json:"source"`
	Target            string    `json:"target"`
	ReplicationPolicy string    `json:"replication_policy"`
	DeletedAt         time.Time `json:"deleted_at"`
}

// storedCluster is a cluster as written to the topic: secrets sealed.
type storedCluster struct {
	agentapi.Cluster
	SealedPassword []byte `json:"sealed_password,omitempty"`
	SealedKeyPEM   []byte `json:"sealed_key_pem,omitempty"`
	// SecretsBound says the secrets are sealed bound to the cluster (see
	// secrets.go); agents before that sealed them unbound.
	SecretsBound bool `json:"secrets_bound,omitempty"`
}

// Store is the replica's view of the state topic.
type Store struct {
	cl        *kgo.Client
	sealer    *Sealer
	maxRecord int // the state topic's max.message.bytes
	// observer is the state connection's; every stored cluster's
	// connection reports its clients' logs and metrics to it too.
	observer *kafkaconn.Observer

	mu       sync.Mutex
	clusters map[string]storedCluster
	mirrors  map[string]agentapi.Mirror
	policies map[string]agentapi.Policy
	forgot   map[string]ForgottenDivergence // by cluster
	awaited  map[string]bool                // nonce of a put this replica waits for -> whether it applied
	lastPut  map[string]string              // key -> nonce of its latest record
	retired  map[string]RetiredMirror       // by mirror/target
	acls     map[string]MirrorACLs          // by mirror
	machine  *policy.Machine
	applied  int64         // offset of the last record applied
	changed  chan struct{} // closed and replaced on every applied record
	tailErr  error
	lastPing time.Time // when the state cluster last answered

	// clusterAt is the offset of the record a cluster stands on (or of its
	// tombstone): what a re-seal made from it names.
	clusterAt    map[string]int64
	secretsBound bool // the state topic holds secretsBoundKey

	// format is the record format version writers write: the latest
	// switch recorded, recordformat.First before any.
	format int
	// refused is the record this replica did not read, for its format
	// version: no later record applies, since the state topic's order
	// decides, so writes and reads wait on it no more.
	refused error
	live    map[string]int // see NoteLive

	cancel context.CancelFunc
	done   chan struct{}
}

// Open connects to the state cluster, creates the state topic if needed and
// returns once the store has read everything already in it.
func Open(ctx context.Context, state kafkaconn.Conn, sealer *Sealer) (*Store, error) {
	opts, err := kafkaconn.Opts(state)
	if err != nil {
		return nil, err
	}
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	err = EnsureCompactedTopic(ctx, kadm.NewClient(admin), StateTopic, 1)
	maxRecord := maxRecordBytes(ctx, kadm.NewClient(admin))
	admin.Close()
	if err != nil {
		return nil, fmt.Errorf("state topic %s on %s: %w", StateTopic, strings.Join(state.BootstrapServers, ","), err)
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{StateTopic: {0: kgo.NewOffset().AtStart()}}),
		kgo.DefaultProduceTopic(StateTopic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(int32(maxRecord)),
	)...)
	if err != nil {
		return nil, err
	}
	tailCtx, cancel := context.WithCancel(context.Background())
	s := newStore(sealer)
	s.cl, s.maxRecord, s.cancel, s.observer = cl, maxRecord, cancel, state.Observer
	go s.tail(tailCtx)
	go s.ping(tailCtx)
	if err := s.Sync(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("read state topic %s: %w", StateTopic, err)
	}
	return s, nil
}

// newStore is a store that holds nothing yet and reads no topic.
func newStore(sealer *Sealer) *Store {
	return &Store{
		sealer:   sealer,
		clusters: map[string]storedCluster{}, clusterAt: map[string]int64{}, mirrors: map[string]agentapi.Mirror{},
		policies: map[string]agentapi.Policy{}, forgot: map[string]ForgottenDivergence{}, machine: policy.NewMachine(),
		awaited: map[string]bool{}, lastPut: map[string]string{},
		retired: map[string]RetiredMirror{}, acls: map[string]MirrorACLs{},
		applied: -1, changed: make(chan struct{}), format: recordformat.First,
		done: make(chan struct{}),
	}
}

// EnsureCompactedTopic creates a compacted internal topic unless it exists.
func EnsureCompactedTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	compact := "compact"
	resp, err := adm.CreateTopic(ctx, partitions, -1, map[string]*string{"cleanup.policy": &compact}, topic)
	if err == nil {
		err = resp.Err
	}
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return nil
	}
	return err
}

// CanSeal reports whether the agent can store secrets (it has a key).
func (s *Store) CanSeal() bool { return s.sealer != nil }

// Close stops tailing.
func (s *Store) Close() {
	s.cancel()
	<-s.done
	s.cl.Close()
}

// readyWithin is how recently the state cluster must have answered for the
// agent to call itself ready.
const readyWithin = 15 * time.Second

// ping asks the state cluster for metadata every few seconds; a fetch loop
// alone would retry quietly and never say the cluster is gone.
func (s *Store) ping(ctx context.Context) {
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.cl.Ping(pctx)
		cancel()
		if err == nil {
			s.mu.Lock()
			s.lastPing = time.Now()
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Store) tail(ctx context.Context) {
	defer close(s.done)
	for {
		fetches := s.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fetches.EachError(func(_ string, _ int32, err error) {
			s.mu.Lock()
			s.tailErr = err
			s.mu.Unlock()
		})
		fetches.EachRecord(s.apply)
	}
}

func (s *Store) apply(r *kgo.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused != nil {
		return
	}
	if _, err := recordformat.Check(r); err != nil {
		undecodable.Report(r, err)
		s.refused = fmt.Errorf("%s offset %d: %w", StateTopic, r.Offset, err)
		close(s.changed) // waiters learn of it
		s.changed = make(chan struct{})
		return
	}
	key := string(r.Key)
	if r.Value == nil {
		delete(s.lastPut, key)
	}
	switch {
	case strings.HasPrefix(key, kindCluster):
		name := strings.TrimPrefix(key, kindCluster)
		var c storedCluster
		at, seen := s.clusterAt[name]
		if !seen {
			at = -1
		}
		if r.Value == nil {
			delete(s.clusters, name)
			s.clusterAt[name] = r.Offset
		} else if undecodable.JSON(r, &c) && s.admit(r, has(s.clusters, name), at) {
			c.Name = name // the key names it: secrets are bound to that name
			s.clusters[name] = c
			s.clusterAt[name] = r.Offset
		}
	case strings.HasPrefix(key, kindMirror):
		name := strings.TrimPrefix(key, kindMirror)
		var m agentapi.Mirror
		if r.Value == nil {
			delete(s.mirrors, name)
		} else if undecodable.JSON(r, &m) && s.admit(r, has(s.mirrors, name), -1) {
			s.mirrors[name] = m
		}
	case strings.HasPrefix(key, kindPolicy):
		name := strings.TrimPrefix(key, kindPolicy)
		var p agentapi.Policy
		if r.Value == nil {
			delete(s.policies, name)
			s.machine.PolicyDeleted(name)
		} else if undecodable.JSON(r, &p) && s.admit(r, has(s.policies, name), -1) {
			s.policies[name] = p
			s.machine.PolicyStored(name, p.Primary, p.CreatedAt)
		}
	case strings.HasPrefix(key, kindForgotten):
		name := strings.TrimPrefix(key, kindForgotten)
		var f ForgottenDivergence
		if r.Value == nil {
			delete(s.forgot, name)
		} else if undecodable.JSON(r, &f) {
			s.forgot[name] = f
		}
	case strings.HasPrefix(key, kindRetired):
		var rm RetiredMirror
		if r.Value != nil && undecodable.JSON(r, &rm) {
			s.retired[strings.TrimPrefix(key, kindRetired)] = rm
		}
	case strings.HasPrefix(key, kindACLs):
		var a MirrorACLs
		if r.Value == nil {
			delete(s.acls, strings.TrimPrefix(key, kindACLs))
		} else if undecodable.JSON(r, &a) {
			s.acls[strings.TrimPrefix(key, kindACLs)] = a
		}
	case key == secretsBoundKey:
		s.secretsBound = r.Value != nil
	case strings.HasPrefix(key, kindFormat):
		var f FormatSwitch
		if r.Value != nil && undecodable.JSON(r, &f) && f.Version > s.format {
			s.format = f.Version // never back: records of it may exist
		}
	case strings.HasPrefix(key, kindFailover):
		var op policy.Op
		if r.Value != nil && undecodable.JSON(r, &op) {
			s.machine.Apply(op)
		}
	}
	s.applied = r.Offset
	s.tailErr = nil
	close(s.changed)
	s.changed = make(chan struct{})
}

// Changed returns a channel closed at the next change of the state.
func (s *Store) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Sync returns once this replica has read every record written before the
// call: it writes a barrier record and waits to read it back.
func (s *Store) Sync(ctx context.Context) error {
	_, err := s.write(ctx, barrierKey, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	return err
}

// CatchUp returns once this replica has applied every record the state
// topic held when it was called. Unlike Sync it writes nothing, so that
// callers that run often (a mirror task at each start) do not wake every
// replica. It gives the same order: whatever was written before the call
// is below the end offset it reads.
func (s *Store) CatchUp(ctx context.Context) error {
	ends, err := kadm.NewClient(s.cl).ListEndOffsets(ctx, StateTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("end of %s: %w", StateTopic, err)
	}
	end, ok := ends.Lookup(StateTopic, 0)
	if !ok {
		return fmt.Errorf("end of %s: partition 0 missing from the answer", StateTopic)
	}
	if err := s.waitApplied(ctx, end.Offset-1); err != nil {
		return fmt.Errorf("read %s up to offset %d: %w", StateTopic, end.Offset, err)
	}
	return nil
}

// waitApplied returns once the tail has applied the record at offset.
func (s *Store) waitApplied(ctx context.Context, offset int64) error {
	for {
		s.mu.Lock()
		applied, changed, refused := s.applied, s.changed, s.refused
		s.mu.Unlock()
		if applied >= offset {
			return nil
		}
		if refused != nil {
			return refused
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("applied up to %d: %w", applied, ctx.Err())
		}
	}
}

// write produces one record and waits until the tail has applied it.
func (s *Store) write(ctx context.Context, key string, value []byte) (int64, error) {
	return s.writeRecord(ctx, &kgo.Record{Key: []byte(key), Value: value})
}

func (s *Store) writeRecord(ctx context.Context, r *kgo.Record) (int64, error) {
	r.Partition = 0
	recordformat.Stamp(r, s.Format())
	if err := s.fits(r); err != nil {
		return 0, err
	}
	if err := context.Cause(ctx); err != nil {
		return 0, fmt.Errorf("write to %s: not sent: %w", StateTopic, err)
	}
	// A record once given to the client is written whatever ctx says: the
	// caller stops waiting at ctx's end, not the client. franz-go fails
	// every buffered record of the partition when one record's context
	// ends, so a caller that gave up (a runner stopped mid-write) would
	// fail the writes of every other caller batched with it.
	produced := make(chan error, 1)
	s.cl.Produce(context.WithoutCancel(ctx), r, func(_ *kgo.Record, err error) { produced <- err })
	select {
	case err := <-produced:
		if err != nil {
			return 0, fmt.Errorf("write to %s: %w", StateTopic, err)
		}
	case <-ctx.Done():
		return 0, fmt.Errorf("write to %s: no answer: %w", StateTopic, context.Cause(ctx))
	}
	if err := s.waitApplied(ctx, r.Offset); err != nil {
		return 0, fmt.Errorf("waiting to read back %s: %w", r.Key, err)
	}
	return r.Offset, nil
}

// Healthy reports whether the state cluster answered recently and the state
// topic is being read without error.
func (s *Store) Healthy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tailErr != nil {
		return s.tailErr
	}
	if s.lastPing.IsZero() {
		return nil // Open has just read the topic
	}
	if since := time.Since(s.lastPing); since > readyWithin {
		return fmt.Errorf("no answer from the state cluster for %s", since.Round(time.Second))
	}
	return nil
}

// PutCluster stores c, sealing its secrets, and answers the stored cluster
// without them. A PUT without a secret keeps the stored one when it may
// (see keeps), so that re-applying a configuration that holds no secret
// does not erase it. created says this call created it; see put for a
// create made meanwhile.
func (s *Store) PutCluster(ctx context.Context, c agentapi.Cluster) (stored agentapi.Cluster, created bool, err error) {
	s.mu.Lock()
	prev, had := s.clusters[c.Name]
	s.mu.Unlock()
	sc := storedCluster{Cluster: c, SecretsBound: true}
	if c.SASL != nil {
		sasl := *c.SASL
		if sc.SealedPassword, err = s.sealOrKeep(c, secretPassword, sasl.Password, prev, had); err != nil {
			return agentapi.Cluster{}, false, err
		}
		sasl.Password = ""
		sasl.PasswordSet = sc.SealedPassword != nil
		sc.SASL = &sasl
	}
	if c.TLS != nil {
		t := *c.TLS
		if sc.SealedKeyPEM, err = s.sealOrKeep(c, secretKeyPEM, t.KeyPEM, prev, had); err != nil {
			return agentapi.Cluster{}, false, err
		}
		t.KeyPEM = ""
		t.KeyPEMSet = sc.SealedKeyPEM != nil
		sc.TLS = &t
	}
	value, err := json.Marshal(sc)
	if err != nil {
		return agentapi.Cluster{}, false, err
	}
	if created, err = s.put(ctx, kindCluster+c.Name, value, had); err != nil {
		return agentapi.Cluster{}, false, err
	}
	stored, err = s.GetCluster(c.Name)
	return stored, created, err
}

// GetCluster answers a stored cluster without its secrets.
func (s *Store) GetCluster(name string) (agentapi.Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clusters[name]
	if !ok {
		return agentapi.Cluster{}, ErrNotFound
	}
	return c.Cluster, nil
}

// Clusters answers all stored clusters, sorted by name, without secrets.
func (s *Store) Clusters() []agentapi.Cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]agentapi.Cluster, 0, len(s.clusters))
	for _, c := range s.clusters {
		out = append(out, c.Cluster)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Conn answers what the agent needs to connect to a stored cluster, secrets
// decrypted. It stays in memory.
func (s *Store) Conn(name string) (kafkaconn.Conn, error) {
	s.mu.Lock()
	c, ok := s.clusters[name]
	s.mu.Unlock()
	if !ok {
		return kafkaconn.Conn{}, fmt.Errorf("cluster %q: %w", name, ErrNotFound)
	}
	conn := kafkaconn.Conn{Name: c.Name, BootstrapServers: c.BootstrapServers, Observer: s.observer}
	var err error
	if c.SASL != nil {
		conn.SASLMechanism, conn.SASLUsername = c.SASL.Mechanism, c.SASL.Username
		if conn.SASLPassword, err = s.open(c, secretPassword); err != nil {
			return kafkaconn.Conn{}, err
		}
	}
	if c.TLS != nil {
		conn.TLS, conn.CAPEM, conn.CertPEM, conn.InsecureTLS = true, c.TLS.CAPEM, c.TLS.CertPEM, c.TLS.InsecureSkipVerify
		if conn.KeyPEM, err = s.open(c, secretKeyPEM); err != nil {
			return kafkaconn.Conn{}, err
		}
	}
	return conn, nil
}

// DeleteCluster removes a cluster; deleting an unknown one is not an error.
// DeleteCluster deletes a cluster, and then the mark of a divergence
// forgotten with its policy: a cluster declared again under the name is a
// new one. (A crash between the two leaves the mark, which keeps mirrors of
// the name stopped until the cluster is deleted again: the safe side.)
func (s *Store) DeleteCluster(ctx context.Context, name string) error {
	if _, err := s.write(ctx, kindCluster+name, nil); err != nil {
		return err
	}
	s.mu.Lock()
	_, marked := s.forgot[name]
	s.mu.Unlock()
	if !marked {
		return nil
	}
	_, err := s.write(ctx, kindForgotten+name, nil)
	return err
}

// ForgetDivergence marks a diverged cluster before its policy is deleted
// with forget_diverged; see ForgottenDivergence.
func (s *Store) ForgetDivergence(ctx context.Context, f ForgottenDivergence) error {
	value, err := json.Marshal(f)
	if err != nil {
		return err
	}
	_, err = s.write(ctx, kindForgotten+f.Cluster, value)
	return err
}

// PutMirror stores m and answers it as stored. CreatedAt is kept from the
// first PUT so that start_from=latest keeps its meaning across updates.
// created says this call created it; see put for a create made meanwhile.
func (s *Store) PutMirror(ctx context.Context, m agentapi.Mirror) (stored agentapi.Mirror, created bool, err error) {
	s.mu.Lock()
	prev, had := s.mirrors[m.Name]
	s.mu.Unlock()
	m.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
	if had && !prev.CreatedAt.IsZero() {
		m.CreatedAt = prev.CreatedAt
	}
	value, err := json.Marshal(m)
	if err != nil {
		return agentapi.Mirror{}, false, err
	}
	if created, err = s.put(ctx, kindMirror+m.Name, value, had); err != nil {
		return agentapi.Mirror{}, false, err
	}
	stored, err = s.GetMirror(m.Name)
	return stored, created, err
}

// GetMirror answers a stored mirror.
func (s *Store) GetMirror(name string) (agentapi.Mirror, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.mirrors[name]
	if !ok {
		return agentapi.Mirror{}, ErrNotFound
	}
	return m, nil
}

// Mirrors answers all stored mirrors, sorted by name.
func (s *Store) Mirrors() []agentapi.Mirror {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]agentapi.Mirror, 0, len(s.mirrors))
	for _, m := range s.mirrors {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DeleteMirror removes a mirror; deleting an unknown one is not an error.
// What it leaves on its target is recorded first (see RetiredMirror).
func (s *Store) DeleteMirror(ctx context.Context, name string) error {
	s.mu.Lock()
	m, had := s.mirrors[name]
	s.mu.Unlock()
	if had {
		rm := RetiredMirror{Mirror: name, Source: m.Source, Target: m.Target, ReplicationPolicy: m.ReplicationPolicy, DeletedAt: time.Now().UTC().Truncate(time.Millisecond)}
		value, err := json.Marshal(rm)
		if err != nil {
			return err
		}
		if _, err := s.write(ctx, kindRetired+name+"/"+m.Target, value); err != nil {
			return err
		}
	}
	_, err := s.write(ctx, kindMirror+name, nil)
	return err
}

// Retired answers what a deleted mirror of this name left on target.
func (s *Store) Retired(mirror, target string) (RetiredMirror, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rm, ok := s.retired[mirror+"/"+target]
	return rm, ok
}

// PutPolicy stores p and answers it as stored. created_at and primary are
// kept from the first PUT: the active cluster changes only by failover.
// created says this call created it; see put for a create made meanwhile.
func (s *Store) PutPolicy(ctx context.Context, p agentapi.Policy) (stored agentapi.Policy, created bool, err error) {
	s.mu.Lock()
	prev, had := s.policies[p.Name]
	p.CreatedAt = s.machine.NewGeneration(p.Name, time.Now())
	s.mu.Unlock()
	if had {
		p.CreatedAt, p.Primary = prev.CreatedAt, prev.Primary
	}
	p.Active, p.ActiveBootstrapServers, p.Epoch, p.Standbys, p.InProgress, p.LastFailover, p.Diverged, p.Quarantines = "", nil, 0, nil, nil, nil, nil, nil
	value, err := json.Marshal(p)
	if err != nil {
		return agentapi.Policy{}, false, err
	}
	if created, err = s.put(ctx, kindPolicy+p.Name, value, had); err != nil {
		return agentapi.Policy{}, false, err
	}
	stored, err = s.GetPolicy(p.Name)
	return stored, created, err
}

// GetPolicy answers a stored policy with its live state filled in.
func (s *Store) GetPolicy(name string) (agentapi.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.policies[name]
	if !ok {
		return agentapi.Policy{}, ErrNotFound
	}
	if st, ok := s.machine.State(name); ok {
		p.Active, p.Epoch, p.InProgress, p.LastFailover = st.Active, st.Epoch, st.InProgress, st.Last
		for c := range st.Diverged {
			p.Diverged = append(p.Diverged, c)
		}
		sort.Strings(p.Diverged)
		p.Quarantines = st.Quarantines // in the order they were quarantined
		if c, ok := s.clusters[st.Active]; ok {
			p.ActiveBootstrapServers = c.BootstrapServers
		}
	}
	return p, nil
}

// Policies answers the stored policies' names, sorted.
func (s *Store) Policies() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.policies))
	for n := range s.policies {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// DeletePolicy removes a policy; its failover history stays in the topic.
func (s *Store) DeletePolicy(ctx context.Context, name string) error {
	_, err := s.write(ctx, kindPolicy+name, nil)
	return err
}

// PolicyState answers a policy's live state.
func (s *Store) PolicyState(name string) (policy.State, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.machine.State(name)
}

// AppendOp writes a failover op and answers whether it applied, once this
// replica has read it back: the state topic's order decides.
func (s *Store) AppendOp(ctx context.Context, op policy.Op) (bool, error) {
	op.Nonce = newNonce()
	value, err := json.Marshal(op)
	if err != nil {
		return false, err
	}
	key := kindFailover + op.Policy + "/" + op.RequestID + "/" + op.Kind + "/" + op.Nonce
	if _, err := s.write(ctx, key, value); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	applied, _ := s.machine.Applied(op.Nonce)
	return applied, nil
}
