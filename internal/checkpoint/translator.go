// Package checkpoint translates consumer-group offsets from a mirror's
// source to its target exactly, stores the checkpoints on the target and
// commits them to groups that are idle there, so that consumers resume after
// a failover at the next record they have not read.
package checkpoint

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/undecodable"
)

// Translator keeps the translation index of one mirror: it tails the
// mirror's offset syncs (read committed) on the target.
type Translator struct {
	idx offsetsync.Index
	cl  *kgo.Client

	mu       sync.Mutex
	seen     int64 // syncs applied, for tests and metrics
	rejected int64 // syncs the index refused (conflicts): never expected
}

// StartTranslator starts tailing the offset syncs of mirror; it stops when
// ctx ends.
func StartTranslator(ctx context.Context, targetOpts []kgo.Opt, mirror string) (*Translator, error) {
	cl, err := kgo.NewClient(append(targetOpts,
		kgo.ConsumeTopics(offsetsync.Topic(mirror)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return nil, err
	}
	t := &Translator{cl: cl}
	go func() {
		defer cl.Close()
		for ctx.Err() == nil {
			fetches := cl.PollFetches(ctx)
			fetches.EachRecord(t.apply)
		}
	}()
	return t, nil
}

func (t *Translator) apply(r *kgo.Record) {
	rec, err := offsetsync.DecodeRecord(r.Key, r.Value)
	if err != nil {
		undecodable.Report(r, err)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range rec.Syncs {
		if err := t.idx.Add(s); err != nil {
			t.rejected++
			continue
		}
		t.seen++
	}
}

// Log answers the translation log of a source partition.
func (t *Translator) Log(topic string, partition int32) *offsetsync.Log {
	return t.idx.Log(topic, partition)
}
