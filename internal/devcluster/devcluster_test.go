package devcluster

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Partitions roll to a new segment every SegmentBytes unless their topic
// asks for its own size: a large segment stalls the whole cluster each time
// its buffer grows. The segments are counted on disk, in the data dir.
func TestPartitionsRollSmallSegmentsUnlessTheTopicAsksForItsOwn(t *testing.T) {
	dir := t.TempDir()
	c, err := Start(Config{Name: "segments", Listen: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Bootstrap()...), kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	own := strconv.Itoa(64 << 20)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"segment.bytes": &own}, "own"); err != nil {
		t.Fatal(err)
	}
	// 20 MiB into each: two full segments and a third begun at 8 MiB.
	value := []byte(strings.Repeat("x", 64<<10))
	for _, topic := range []string{"plain", "own"} {
		for range 320 {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, nil)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A segment rolls once full, at a batch boundary: franz-go's batches
	// are at most about 1 MiB.
	const maxBatch = 1<<20 + 4096
	for topic, want := range map[string]int{"plain": 3, "own": 1} {
		segments, err := filepath.Glob(filepath.Join(dir, "partitions", topic+"-0", "*.dat"))
		if err != nil {
			t.Fatal(err)
		}
		if len(segments) != want {
			t.Errorf("topic %s: %d segments after 20 MiB (%v), want %d", topic, len(segments), segments, want)
		}
		for _, s := range segments {
			if fi, err := os.Stat(s); err == nil && topic == "plain" && fi.Size() > SegmentBytes+maxBatch {
				t.Errorf("topic %s: segment %s holds %d bytes, more than %d and one batch", topic, s, fi.Size(), SegmentBytes)
			}
		}
	}
}
