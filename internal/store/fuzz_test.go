package store

import (
	"encoding/json"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// FuzzStateRecord applies whatever the fuzzer makes of a state-topic record
// (anyone who can write the state cluster can write one) to a replica that
// holds policies p and q: no panic, and a value that is not JSON changes
// nothing.
func FuzzStateRecord(f *testing.F) {
	seeds := []struct {
		key, value, put string
		tombstone       bool
	}{
		{key: "cluster/na", value: `{"name":"na","bootstrap_servers":["na:9092"]}`},
		{key: "cluster/na", value: `{"name":"na","bootstrap_servers":["na:9092"],"sasl":{"mechanism":"PLAIN","username":"u"},"sealed_password":"AAAA"}`, put: putCreate},
		{key: "mirror/m-p", value: `{"name":"m-p","source":"na","target":"eu","topics":{"include":["a"]}}`},
		{key: "policy/p", value: `{"name":"p","clusters":["na","eu"],"primary":"eu","created_at":"2026-01-01T00:00:00Z"}`, put: putCreate},
		{key: "policy/q", tombstone: true},
		{key: "failover/p/begin/r", value: `{"kind":"begin","policy":"p","generation":"2026-01-01T00:00:00Z","request_id":"r","run":{"request_id":"r","from":"na","to":"eu","from_epoch":0}}`},
		{key: "failover/p/complete/r", value: `{"kind":"complete","policy":"p","request_id":"r","result":{"epoch":-5}}`},
		{key: "forgotten/na", value: `{"cluster":"na","policy":"p","epoch":1}`},
		{key: "retired/m-p/eu", value: `{}`},
		{key: secretsBoundKey, value: `1`},
		{key: "policy/p", value: `{"name":`},
		{key: "cluster/", value: `[]`},
	}
	for _, s := range seeds {
		f.Add(s.key, []byte(s.value), s.put, s.tombstone)
	}
	f.Fuzz(func(t *testing.T, key string, value []byte, put string, tombstone bool) {
		writer, replica := fuzzReplica(), fuzzReplica()
		r := &kgo.Record{Topic: StateTopic, Key: []byte(key), Value: value, Offset: 100,
			Headers: []kgo.RecordHeader{{Key: headerNonce, Value: []byte("n")}, {Key: headerPut, Value: []byte(put)}}}
		if tombstone {
			r.Value = nil
		}
		replica.apply(r)
		if r.Value != nil && !json.Valid(r.Value) {
			if diff := stateDiff(writer, replica); diff != "" {
				t.Fatalf("a record %q whose value is not JSON changed the state: %s", key, diff)
			}
		}
		// Whatever it applied, the replica answers every question.
		for _, name := range []string{"p", "q"} {
			_, _ = replica.GetPolicy(name)
		}
		_, _ = replica.GetCluster("na")
	})
}

// fuzzReplica holds clusters na and eu, mirror m-p and policies p and q.
func fuzzReplica() *Store {
	s := newStore(nil)
	for i, rec := range [][2]string{
		{"cluster/na", `{"name":"na","bootstrap_servers":["na:9092"]}`},
		{"cluster/eu", `{"name":"eu","bootstrap_servers":["eu:9092"]}`},
		{"mirror/m-p", `{"name":"m-p","source":"na","target":"eu","topics":{"include":["a"]}}`},
		{"policy/p", `{"name":"p","clusters":["na","eu"],"primary":"na","mirrors":["m-p"],"created_at":"2026-01-01T00:00:00Z"}`},
		{"policy/q", `{"name":"q","clusters":["na","eu"],"primary":"eu","created_at":"2026-01-01T00:00:00Z"}`},
	} {
		s.apply(&kgo.Record{Topic: StateTopic, Key: []byte(rec[0]), Value: []byte(rec[1]), Offset: int64(i)})
	}
	return s
}
