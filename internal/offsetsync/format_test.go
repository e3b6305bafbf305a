package offsetsync

import (
	"errors"
	"testing"

	"github.com/kafka-failover/kafka-failover/internal/recordformat"
)

// A snapshot chunk whose version byte is above what this agent reads is
// refused as an unknown version, not as a damaged chunk: it is a newer
// agent's, and must not be skipped.
func TestASnapshotChunkOfAnUnknownVersionIsRefusedAsSuch(t *testing.T) {
	chunk := (&Index{}).Snapshot([]string{"task-0-of-1"}, "s")[0]
	chunk.Value[0] = byte(recordformat.Reads + 1)
	if _, err := DecodeRecord(chunk.Key, chunk.Value); !errors.Is(err, recordformat.ErrUnknownVersion) {
		t.Fatalf("decode: %v; want an unknown version", err)
	}
	if _, err := Writers(chunk.Key, chunk.Value); !errors.Is(err, recordformat.ErrUnknownVersion) {
		t.Fatalf("writers: %v; want an unknown version", err)
	}
}
