package kafkatest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProduceDataSet writes the benchmarks' data set to topic, which it creates
// with partitions partitions: perPartition records to each, each with a key,
// a ~200-byte JSON value (96 random hex characters in it, so that
// compression does not shrink it to nothing) and a header. The values are
// the same on every call. opts are more producer options, e.g. a codec. It
// answers the bytes of keys and values written.
func ProduceDataSet(tb testing.TB, bootstrap []string, topic string, partitions int32, perPartition int, opts ...kgo.Opt) int64 {
	tb.Helper()
	CreateTopic(tb, bootstrap, topic, partitions, nil)
	cl := Client(tb, bootstrap, append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	defer cl.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	var firstErr atomic.Value
	var size int64
	for i := range perPartition {
		for p := range partitions {
			r := &kgo.Record{
				Topic: topic, Partition: p,
				Key:     fmt.Appendf(nil, "order-%d-%d", p, i),
				Value:   DataSetValue(rng, p, i),
				Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("bench")}},
			}
			size += int64(len(r.Key) + len(r.Value))
			cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			})
		}
	}
	if err := cl.Flush(ctx); err != nil {
		tb.Fatalf("produce the data set: %v", err)
	}
	if err, _ := firstErr.Load().(error); err != nil {
		tb.Fatalf("produce the data set: %v", err)
	}
	return size
}

// DataSetValue is the value of record i of a partition of the data set:
// about 200 bytes of JSON.
func DataSetValue(rng *rand.Rand, partition int32, i int) []byte {
	const hex = "0123456789abcdef"
	pad := make([]byte, 96)
	for j := range pad {
		pad[j] = hex[rng.IntN(16)]
	}
	return fmt.Appendf(nil, `{"order":%d,"partition":%d,"customer":"c-%06d","amount_cents":%d,"currency":"EUR","status":"created","note":"%s"}`,
		i, partition, rng.IntN(1000000), rng.IntN(100000), pad)
}
