// Package checkpoint translates consumer-group offsets from a mirror's
// source to its target exactly, stores the checkpoints on the target and
// commits them to groups that are idle there, so that consumers resume after
// a failover at the next record they have not read.
package checkpoint

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
	"github.com/kafka-failover/kafka-failover/internal/undecodable"
)

// Translator keeps the translation index of one mirror: it tails the
// mirror's offset syncs (read committed) on the target. It is caught up once
// it has read every sync committed when it started; before that its index
// is partial and translates committed offsets too low.
type Translator struct {
	mirror string
	idx    offsetsync.Index
	cl     *kgo.Client
	// caughtUp is closed once the syncs committed at start are read.
	caughtUp chan struct{}

	mu       sync.Mutex
	seen     int64 // syncs applied, for tests and metrics
	rejected int64 // syncs the index refused (conflicts): never expected
	behind   int   // sync topic partitions not read to their start-time end yet
	lastErr  error // why the catch-up has not finished, if something failed
	// refused names the first sync record of a format this agent does not
	// read: the index lacks its runs, so nothing may be translated with it.
	refused string
}

// catchUpCheck is how often a translator that is catching up looks again at
// the sync topic's log start: another owner may delete records below it,
// and a partition whose records are all gone has nothing left to read.
const catchUpCheck = time.Second

// StartTranslator starts tailing the offset syncs of mirror; it stops when
// ctx ends.
func StartTranslator(ctx context.Context, targetOpts []kgo.Opt, mirror string) (*Translator, error) {
	topic := offsetsync.Topic(mirror)
	cl, err := kgo.NewClient(append(targetOpts,
		kgo.ConsumeTopics(topic),
		// Also when the log start moved past the position (records
		// deleted below it): read on from the new start.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // a partition that ends in a marker is read to its end
	)...)
	if err != nil {
		return nil, err
	}
	t := &Translator{mirror: mirror, cl: cl, caughtUp: make(chan struct{})}
	go func() {
		defer cl.Close()
		t.catchUp(ctx, kadm.NewClient(cl), topic)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(t.apply)
		}
	}()
	return t, nil
}

// catchUp reads the sync topic up to its last stable offsets as listed at
// start, then closes caughtUp.
func (t *Translator) catchUp(ctx context.Context, adm *kadm.Client, topic string) {
	var ends map[int32]int64
	for ctx.Err() == nil {
		var err error
		if ends, err = listUnread(ctx, adm, topic, nil); err == nil {
			break
		}
		t.note(len(ends), err)
		sleep(ctx, catchUpCheck)
	}
	checked := time.Now()
	for len(ends) > 0 && ctx.Err() == nil {
		t.note(len(ends), nil)
		pctx, cancel := context.WithTimeout(ctx, catchUpCheck)
		fetches := t.cl.PollFetches(pctx)
		cancel()
		fetches.EachRecord(func(r *kgo.Record) {
			t.apply(r)
			if end, ok := ends[r.Partition]; ok && r.Offset+1 >= end {
				delete(ends, r.Partition)
			}
		})
		if time.Since(checked) < catchUpCheck || len(ends) == 0 {
			continue
		}
		checked = time.Now()
		// Records deleted below an end leave less to read: at most up to
		// the current end, from the new log start.
		left, err := listUnread(ctx, adm, topic, ends)
		if err != nil {
			t.note(len(ends), err)
			continue
		}
		ends = left
	}
	if ctx.Err() == nil {
		t.note(0, nil)
		close(t.caughtUp)
	}
}

// listUnread answers, for the sync topic's partitions (of only, when not
// nil), the last stable offset of those that hold committed records at or
// above their log start: what a read-committed reader from the start must
// reach. A partition of only whose log start passed its end there is
// re-listed, since the records read up to now may have been deleted and
// replaced by later ones.
func listUnread(ctx context.Context, adm *kadm.Client, topic string, only map[int32]int64) (map[int32]int64, error) {
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("last stable offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	unread := map[int32]int64{}
	var listErr error
	ends.Each(func(o kadm.ListedOffset) {
		if only != nil {
			was, ok := only[o.Partition]
			if !ok {
				return
			}
			if s, ok := starts.Lookup(topic, o.Partition); !ok || s.Err != nil || s.Offset < was {
				unread[o.Partition] = was // nothing deleted up to the end we aim at
				return
			}
		}
		s, _ := starts.Lookup(topic, o.Partition)
		switch {
		case o.Err != nil:
			listErr = fmt.Errorf("last stable offset of %s[%d]: %w", topic, o.Partition, o.Err)
		case s.Err != nil:
			listErr = fmt.Errorf("start offset of %s[%d]: %w", topic, o.Partition, s.Err)
		case o.Offset > s.Offset:
			unread[o.Partition] = o.Offset
		}
	})
	return unread, listErr
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (t *Translator) note(behind int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.behind, t.lastErr = behind, err
}

func (t *Translator) apply(r *kgo.Record) {
	if r.Attrs.IsControl() {
		return // read only to know a partition's end is reached
	}
	if !undecodable.Known(r) { // a newer agent's: counted, and /readyz fails
		t.mu.Lock()
		if t.refused == "" {
			t.refused = fmt.Sprintf("%s[%d] at offset %d", r.Topic, r.Partition, r.Offset)
		}
		t.mu.Unlock()
		return
	}
	rec, err := offsetsync.DecodeRecord(r.Key, r.Value)
	if err != nil {
		undecodable.Report(r, err) // a chunk of an unknown version is refused there
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

// Ready says whether the translator has read every offset sync committed
// when it started: only then does it translate as a full read would.
func (t *Translator) Ready() bool {
	select {
	case <-t.caughtUp:
		return true
	default:
		return false
	}
}

// WaitCaughtUp waits until the translator is Ready, or answers why not when
// ctx ends first.
func (t *Translator) WaitCaughtUp(ctx context.Context) error {
	select {
	case <-t.caughtUp:
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.refused != "" {
			return fmt.Errorf("offset syncs of mirror %s hold a record of a format this agent does not read (%s): "+
				"no checkpoint is translated without it; run an agent version that reads it", t.mirror, t.refused)
		}
		return nil
	case <-ctx.Done():
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	msg := fmt.Sprintf("offset syncs of mirror %s not read up to their end yet (%d syncs read", t.mirror, t.seen)
	if t.behind > 0 {
		msg += fmt.Sprintf(", %d partitions of %s to go", t.behind, offsetsync.Topic(t.mirror))
	}
	msg += ")"
	if t.lastErr != nil {
		return fmt.Errorf("%s: %w", msg, t.lastErr)
	}
	return fmt.Errorf("%s: %w", msg, ctx.Err())
}

// Log answers the translation log of a source partition.
func (t *Translator) Log(topic string, partition int32) *offsetsync.Log {
	return t.idx.Log(topic, partition)
}
