package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/recordformat"
)

// FormatSwitch is the one record of a switch of the record format version
// that every replica writes (see package recordformat).
type FormatSwitch struct {
	Version int `json:"version"`
	// Replicas are the live replicas that announced they read it.
	Replicas []string  `json:"replicas"`
	At       time.Time `json:"at"`
}

// Format answers the record format version this replica writes.
func (s *Store) Format() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.format
}

// FormatErr says why this replica cannot go on with the state topic's
// records: it refused one for its format version (no later one applies), or
// the replicas switched to a version it does not read; nil when neither.
func (s *Store) FormatErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refused != nil {
		return s.refused
	}
	if s.format > recordformat.Reads {
		return fmt.Errorf("the replicas switched to record format version %d (%s%d in %s); this agent reads up to %d: upgrade it", s.format, kindFormat, s.format, StateTopic, recordformat.Reads)
	}
	return nil
}

// FormatStatus is what /readyz says of record formats.
type FormatStatus struct {
	Writes int `json:"writes"` // the version recorded, which writers write
	Reads  int `json:"reads"`  // the highest this replica reads
	// Live are the live replicas' announced versions, as the last
	// decision whether to switch saw them.
	Live map[string]int `json:"live,omitempty"`
}

// NoteLive keeps the live replicas' versions the last decision saw.
func (s *Store) NoteLive(live map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.live = live
}

// FormatStatus answers what /readyz says of record formats.
func (s *Store) FormatStatus() FormatStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return FormatStatus{Writes: s.format, Reads: recordformat.Reads, Live: s.live}
}

// RecordFormat records the switch to f.Version. Replicas may record the
// same switch at once: the highest version recorded holds, whatever the
// order, so one more record changes nothing.
func (s *Store) RecordFormat(ctx context.Context, f FormatSwitch) error {
	value, err := json.Marshal(f)
	if err != nil {
		return err
	}
	_, err = s.write(ctx, kindFormat+strconv.Itoa(f.Version), value)
	return err
}
