package checkpoint

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// FuzzCheckpointRecord applies whatever the fuzzer makes of a checkpoint
// record or heartbeat to a cache that holds group g: no panic, and a value
// that is not JSON changes nothing.
func FuzzCheckpointRecord(f *testing.F) {
	for _, s := range []struct {
		key   string
		value string
	}{
		{string(recordKey("g", "t", 0)), `{"group":"g","topic":"t","partition":0,"source_offset":5,"target_offset":105}`},
		{string(heartbeatKey("g")), `{"group":"g","at":"2026-01-01T00:00:00Z","error":"x"}`},
		{string(heartbeatKey("g")), `{"group":"g","at":"not a time"}`},
		{string(recordKey("h", "t", -1)), `{"group":"h","partition":-1}`},
		{"junk", `{"group":`},
	} {
		f.Add([]byte(s.key), []byte(s.value))
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		c := newCache("m")
		c.apply(&kgo.Record{Key: recordKey("g", "t", 0), Value: []byte(`{"group":"g","topic":"t","partition":0,"source_offset":5,"target_offset":105}`)})
		before, _ := c.Group("g")
		c.apply(&kgo.Record{Key: key, Value: value})
		after, _ := c.Group("g")
		if !json.Valid(value) && !reflect.DeepEqual(before, after) {
			t.Fatalf("a record %q whose value %q is not JSON changed group g: %+v became %+v", key, value, before, after)
		}
		_ = c.All()
	})
}
