package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Creates are conditional. Two requests may both find no object under a
// name and both write one: the state topic's order decides. A record marked
// as a create applies only if nothing is stored under its key, so the first
// create wins on every replica, and the writer of a later one learns that
// its create did not apply once it reads its record back. Updates apply as
// they always did: the last one wins.
//
// Compaction keeps only the latest record of a key, so a create (or any
// conditional record, see admit) that did not apply must not stay the
// latest: its writer writes the object as it stands once more. (Were it to
// stop in between, and compaction remove the first create before any later
// write to the key, a replica replaying the topic would take the refused
// create for the object.)

const (
	headerNonce = "kfo.nonce" // tells the writer whether its record applied
	headerPut   = "kfo.put"   // "create" on a record that creates an object
	putCreate   = "create"
	// headerReseals carries the offset of the record a re-seal was made from.
	headerReseals = "kfo.reseals"
)

// ErrCreatedMeanwhile is a create that another request made first: the
// object is that request's, and this one may be retried as an update of it.
var ErrCreatedMeanwhile = errors.New("another request created it first")

func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// put writes an object's record, as a create unless had, and answers
// whether this write created the object.
func (s *Store) put(ctx context.Context, key string, value []byte, had bool) (bool, error) {
	var headers []kgo.RecordHeader
	if !had {
		headers = append(headers, kgo.RecordHeader{Key: headerPut, Value: []byte(putCreate)})
	}
	applied, err := s.putIf(ctx, key, value, headers...)
	if err != nil {
		return false, err
	}
	if !applied {
		return false, ErrCreatedMeanwhile
	}
	return !had, nil
}

// putIf writes a record whose headers may make it conditional and answers
// whether it applied. One that did not apply is not left the latest of its
// key: its writer writes what the key holds once more.
func (s *Store) putIf(ctx context.Context, key string, value []byte, headers ...kgo.RecordHeader) (bool, error) {
	nonce := newNonce()
	r := &kgo.Record{Key: []byte(key), Value: value, Headers: append([]kgo.RecordHeader{{Key: headerNonce, Value: []byte(nonce)}}, headers...)}
	s.mu.Lock()
	s.awaited[nonce] = false
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.awaited, nonce)
		s.mu.Unlock()
	}()
	if _, err := s.writeRecord(ctx, r); err != nil {
		return false, err
	}
	s.mu.Lock()
	applied, latest := s.awaited[nonce], s.lastPut[key] == nonce
	current, _ := s.current(key) // nil, a tombstone, when the key holds nothing
	s.mu.Unlock()
	if applied || !latest {
		return applied, nil
	}
	again := &kgo.Record{Key: []byte(key), Value: current, Headers: []kgo.RecordHeader{{Key: headerNonce, Value: []byte(newNonce())}}}
	if _, err := s.writeRecord(ctx, again); err != nil {
		return false, fmt.Errorf("a conditional write to %s did not apply, and what the key holds could not be written again: %w", key, err)
	}
	return false, nil
}

// admit decides whether an object's record applies: a create does not if
// the key holds an object already; a re-seal (see secrets.go) only over the
// record it was made from, at offset at (-1: the key holds no record seen
// since this replica started). Called with s.mu held, in the topic's order.
func (s *Store) admit(r *kgo.Record, exists bool, at int64) bool {
	var nonce string
	ok := true
	for _, h := range r.Headers {
		switch h.Key {
		case headerNonce:
			nonce = string(h.Value)
		case headerPut:
			ok = ok && (string(h.Value) != putCreate || !exists)
		case headerReseals:
			from, err := strconv.ParseInt(string(h.Value), 10, 64)
			ok = ok && err == nil && (at < 0 || from == at)
		}
	}
	if _, waiting := s.awaited[nonce]; waiting {
		s.awaited[nonce] = ok
	}
	s.lastPut[string(r.Key)] = nonce
	return ok
}

// current answers the record of the object stored under key, as it stands.
// Called with s.mu held.
func (s *Store) current(key string) ([]byte, bool) {
	var v any
	var ok bool
	switch {
	case strings.HasPrefix(key, kindCluster):
		v, ok = s.clusters[strings.TrimPrefix(key, kindCluster)]
	case strings.HasPrefix(key, kindMirror):
		v, ok = s.mirrors[strings.TrimPrefix(key, kindMirror)]
	case strings.HasPrefix(key, kindPolicy):
		v, ok = s.policies[strings.TrimPrefix(key, kindPolicy)]
	}
	if !ok {
		return nil, false
	}
	raw, err := json.Marshal(v)
	return raw, err == nil
}

func has[V any](m map[string]V, key string) bool {
	_, ok := m[key]
	return ok
}
