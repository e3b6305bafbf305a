package mm2

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Checkpoint is one record of a checkpoints topic (Process.CheckpointsTopic):
// a source group's committed offset of a source partition (Upstream) and
// where MirrorMaker 2 would have the group resume on the target
// (Downstream).
type Checkpoint struct {
	Group, Topic         string // the topic on the target (RemoteTopic)
	Partition            int32
	Upstream, Downstream int64
	Metadata             string
}

// DecodeCheckpoint decodes a record of a checkpoints topic, written with
// Kafka's Struct serialization: key (group string, topic string, partition int32),
// value (version int16, upstream int64, downstream int64, metadata string).
func DecodeCheckpoint(key, value []byte) (Checkpoint, error) {
	var c Checkpoint
	k := reader{b: key}
	c.Group, c.Topic, c.Partition = k.str(), k.str(), k.i32()
	v := reader{b: value}
	if version := v.i16(); v.err == nil && version != 0 {
		return c, fmt.Errorf("checkpoint value version %d: only 0 is known", version)
	}
	c.Upstream, c.Downstream, c.Metadata = v.i64(), v.i64(), v.str()
	if err := errors.Join(k.err, v.err); err != nil {
		return c, fmt.Errorf("checkpoint record: %w", err)
	}
	return c, nil
}

// ReadCheckpoints reads topic, a checkpoints topic on the target, to its
// current end and answers the last checkpoint of each group and source partition,
// as RemoteClusterUtils.translateOffsets would.
func ReadCheckpoints(ctx context.Context, target *kgo.Client, topic string) (map[string]map[TopicPartition]Checkpoint, error) {
	adm := kadm.NewClient(target)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	if err := ends.Error(); err != nil {
		return nil, err
	}
	offsets := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			offsets[o.Partition] = kgo.NewOffset().AtStart()
			want[o.Partition] = o.Offset
		}
	})
	out := map[string]map[TopicPartition]Checkpoint{}
	if len(want) == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(append(target.Opts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		// MirrorMaker 2 writes checkpoints in transactions: the markers
		// come back too, so that a partition ending in one is read to its end.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
		var bad error
		fs.EachError(func(_ string, _ int32, err error) { bad = errors.Join(bad, err) })
		if bad != nil {
			return nil, bad
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
			if r.Attrs.IsControl() {
				return
			}
			c, err := DecodeCheckpoint(r.Key, r.Value)
			if err != nil {
				bad = errors.Join(bad, err)
				return
			}
			if out[c.Group] == nil {
				out[c.Group] = map[TopicPartition]Checkpoint{}
			}
			out[c.Group][TopicPartition{Topic: c.Topic, Partition: c.Partition}] = c
		})
		if bad != nil {
			return nil, bad
		}
	}
	return out, nil
}

// reader reads Kafka's Struct encoding; the first short read sets err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if n < 0 || len(r.b) < n {
		r.err = fmt.Errorf("%d bytes left, want %d", len(r.b), n)
		return make([]byte, max(n, 0))
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) i16() int16 { return int16(binary.BigEndian.Uint16(r.take(2))) }
func (r *reader) i32() int32 { return int32(binary.BigEndian.Uint32(r.take(4))) }
func (r *reader) i64() int64 { return int64(binary.BigEndian.Uint64(r.take(8))) }
func (r *reader) str() string {
	n := r.i16()
	return string(r.take(int(n)))
}

// TopicPartition names a partition of a topic on the target.
type TopicPartition struct {
	Topic     string
	Partition int32
}
