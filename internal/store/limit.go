package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultMaxRecordBytes is assumed when the state topic's max.message.bytes
// cannot be read: the producer's own default limit, below Kafka's.
const defaultMaxRecordBytes = 1_000_012

// recordOverhead bounds what a batch of one record adds to its key, value
// and headers: the v2 batch header (61 bytes) and the record's framing.
const recordOverhead = 61 + 32

// ErrRecordTooLarge is a record the state topic would refuse. The store
// checks sizes before compression, so that whether a record is written never
// depends on how well it compresses.
var ErrRecordTooLarge = errors.New("over the state topic's max.message.bytes")

// maxRecordBytes reads the state topic's max.message.bytes.
func maxRecordBytes(ctx context.Context, adm *kadm.Client) int {
	described, err := adm.DescribeTopicConfigs(ctx, StateTopic)
	if err != nil {
		return defaultMaxRecordBytes
	}
	rc, err := described.On(StateTopic, nil)
	if err != nil || rc.Err != nil {
		return defaultMaxRecordBytes
	}
	for _, c := range rc.Configs {
		if c.Key != "max.message.bytes" || c.Value == nil {
			continue
		}
		if n, err := strconv.Atoi(*c.Value); err == nil && n > recordOverhead {
			return n
		}
	}
	return defaultMaxRecordBytes
}

// fits refuses a record the state topic would refuse, naming it: a write
// that fails at the broker half way through a failover is worse than one
// refused before it starts.
func (s *Store) fits(r *kgo.Record) error {
	size := recordOverhead + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		size += 10 + len(h.Key) + len(h.Value)
	}
	if size <= s.maxRecord {
		return nil
	}
	key := string(r.Key)
	if len(key) > 120 {
		key = key[:120] + "..."
	}
	return fmt.Errorf("record %s is %d bytes, %w (%d bytes): not written", key, size, ErrRecordTooLarge, s.maxRecord)
}
