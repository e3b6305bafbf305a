package checkpoint

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxExactCount bounds how far past the mirrored data the checkpointer reads
// the source to count records exactly; beyond it the count stays an upper
// bound (offsets) and says so.
const maxExactCount = 200_000

type countKey struct {
	topic     string
	partition int32
	from, to  int64
}

// CountRecords counts the records a group has read in source offsets
// [from, to) that the mirror has not copied yet. Offsets are not records:
// transaction markers are not counted, and neither are records of
// transactions aborted before to (no committed reader saw them). Records of
// transactions still open are counted (a read-uncommitted group read them).
// ok is false when the range could not be read in time.
func CountRecords(ctx context.Context, source *kgo.Client, topic string, partition int32, from, to int64) (n int64, ok bool) {
	cl, err := kgo.NewClient(append(source.Opts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return 0, false
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pending := map[int64]int64{} // producer id -> records of its open transaction
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil || fetches.Err0() != nil {
			return 0, false
		}
		done := false
		fetches.EachRecord(func(r *kgo.Record) {
			if done || r.Offset >= to {
				done = true
				return
			}
			switch {
			case r.Attrs.IsControl():
				if isCommitMarker(r.Key) {
					n += pending[r.ProducerID]
				}
				delete(pending, r.ProducerID)
			case r.Attrs.IsTransactional():
				pending[r.ProducerID]++
			default:
				n++
			}
			if r.Offset == to-1 {
				done = true
			}
		})
		if done {
			for _, open := range pending {
				n += open
			}
			return n, true
		}
	}
}

// isCommitMarker reads a control record's key: version, then type (1 commit, 0 abort).
func isCommitMarker(key []byte) bool {
	return len(key) >= 4 && binary.BigEndian.Uint16(key[2:4]) == 1
}
