// Package recordformat owns the format version of the records the agent
// writes to its internal topics (__kfo_state, __kfo_status,
// __kfo_offset_syncs.<mirror>, __kfo_checkpoints.<mirror>) and the rule by
// which replicas of different builds agree on the version they write.
//
// Every record carries its version in the header kfo.v; a record without
// it was written before versions existed and is version 1, the format this
// package's first version writes too, so every record ever written stays
// readable. Snapshot chunks of the offset-sync topic carry their version in
// their first byte instead (offsetsync/snapshot.go).
//
// A reader refuses a version it does not know (VersionError, reported by
// package undecodable, which fails /readyz): misreading it, or skipping it
// as if it were noise, could drop a failover op or a sync.
//
// Rolling upgrades: each replica announces the highest version it reads
// (Announcement, in the status topic); a replica that is a member of a
// mirror's task group but announces nothing counts as reading First
// (Unannounced). Writers write the version recorded
// in the state topic (store.Store.Format), version 1 until a replica
// records a switch there; a replica records one (Agreed) only once every
// live replica announces it reads the new version. So an old replica never
// meets a record it cannot read, unless it starts after the switch, when
// it refuses it and stays unready.
package recordformat

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Header is the record header that carries the format version.
const Header = "kfo.v"

// First is the version of records written without Header.
const First = 1

// Current is the highest version this build reads and can write. A change
// to any internal record's encoding raises it, keeps the old encoding for
// writers that Agreed has not moved on yet, and adds a fixture under the
// writing package's testdata.
const Current = 1

// Reads is the highest version this build reads: Current. A test binary
// sets it higher to stand for a newer build (see the agent's upgrade tests).
var Reads = Current

// ErrUnknownVersion is a record whose version this agent does not read.
var ErrUnknownVersion = errors.New("record format version unknown to this agent")

// VersionError is a record refused for its version.
type VersionError struct {
	Version string // as written; a header that is no number is quoted as is
	Reads   int    // the highest version the reader knows
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("%s: version %s, this agent reads up to %d: the record was written by a newer agent; upgrade this one", ErrUnknownVersion, e.Version, e.Reads)
}

func (e *VersionError) Unwrap() error { return ErrUnknownVersion }

// Stamp sets r's version header to v.
func Stamp(r *kgo.Record, v int) {
	val := []byte(strconv.Itoa(v))
	for i, h := range r.Headers {
		if h.Key == Header {
			r.Headers[i].Value = val
			return
		}
	}
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: Header, Value: val})
}

// Check answers r's version, or a *VersionError when it is above Reads or
// not a version at all.
func Check(r *kgo.Record) (int, error) {
	reads := Reads
	v := First
	for _, h := range r.Headers {
		if h.Key != Header {
			continue
		}
		n, err := strconv.Atoi(string(h.Value))
		if err != nil || n < First {
			return 0, &VersionError{Version: strconv.Quote(string(h.Value)), Reads: reads}
		}
		v = n
	}
	if v > reads {
		return 0, &VersionError{Version: strconv.Itoa(v), Reads: reads}
	}
	return v, nil
}

// Announcement is what a replica says of itself in the status topic.
type Announcement struct {
	Agent string    `json:"agent"`
	Build string    `json:"build"` // the binary's version, for people
	Reads int       `json:"reads"` // the highest record format version it reads
	At    time.Time `json:"at"`
}

// AnnounceEvery is how often a replica announces itself; LiveWithin is how
// recent its last announcement must be for it to count as live.
const (
	AnnounceEvery = 3 * time.Second
	LiveWithin    = 15 * time.Second
)

// LiveAt says whether the replica counts as live at now: it announced
// itself within LiveWithin.
func (a Announcement) LiveAt(now time.Time) bool { return now.Sub(a.At) <= LiveWithin }

// Unannounced stands for the replicas that are live but announce nothing:
// members of the task groups (by group.instance.id, members) that no live
// announcement names (instanceOf maps an agent id to its instance id). A
// build from before announcements existed is one, and it reads only First;
// so is a replica whose announcements stopped arriving, which is safest
// taken for the same.
func Unannounced(members []string, announced []Announcement, instanceOf func(agent string) string, now time.Time) []Announcement {
	named := map[string]bool{}
	for _, a := range announced {
		if a.LiveAt(now) {
			named[instanceOf(a.Agent)] = true
		}
	}
	var out []Announcement
	for _, m := range members {
		if !named[m] {
			named[m] = true
			out = append(out, Announcement{Agent: m, Build: "unannounced", Reads: First, At: now})
		}
	}
	return out
}

// Agreed answers the version the replicas may write while recorded is the
// one written now: the lowest version read by a live replica (an
// announcement newer than LiveWithin at now) and by this one (reads), and
// never below recorded (a switch is not undone: records
// of the newer version may exist). switchTo says whether it is above
// recorded, which calls for recording the switch.
func Agreed(recorded, reads int, live []Announcement, now time.Time) (version int, switchTo bool) {
	v := reads
	for _, a := range live {
		if !a.LiveAt(now) {
			continue
		}
		v = min(v, a.Reads)
	}
	if v <= recorded {
		return recorded, false
	}
	return v, true
}
