package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
// Compaction keeps only the latest record of a key, so a create that did
// not apply must not stay the latest: its writer writes the object as it
// stands once more. (Were it to stop in between, and compaction remove the
// first create before any later write to the key, a replica replaying the
// topic would take the refused create for the object.)

const (
	headerNonce = "kfo.nonce" // tells the writer whether its record applied
	headerPut   = "kfo.put"   // "create" on a record that creates an object
	putCreate   = "create"
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
	nonce := newNonce()
	r := &kgo.Record{Key: []byte(key), Value: value, Headers: []kgo.RecordHeader{{Key: headerNonce, Value: []byte(nonce)}}}
	if !had {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: headerPut, Value: []byte(putCreate)})
	}
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
	current, exists := s.current(key)
	s.mu.Unlock()
	if applied {
		return !had, nil
	}
	if latest && exists {
		again := &kgo.Record{Key: []byte(key), Value: current, Headers: []kgo.RecordHeader{{Key: headerNonce, Value: []byte(newNonce())}}}
		if _, err := s.writeRecord(ctx, again); err != nil {
			return false, fmt.Errorf("%w, and it could not be written again as it stands: %v", ErrCreatedMeanwhile, err)
		}
	}
	return false, ErrCreatedMeanwhile
}

// admit decides whether an object's record applies: a create does not if
// the key holds an object already. Called with s.mu held, in the topic's
// order.
func (s *Store) admit(r *kgo.Record, exists bool) bool {
	var nonce string
	create := false
	for _, h := range r.Headers {
		switch h.Key {
		case headerNonce:
			nonce = string(h.Value)
		case headerPut:
			create = string(h.Value) == putCreate
		}
	}
	ok := !create || !exists
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
