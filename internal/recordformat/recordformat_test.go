package recordformat

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The version agreed is the lowest any live replica reads; a replica
// silent for longer than LiveWithin does not hold it back, and a switch is
// never undone.
func TestAgreedIsTheLowestVersionALiveReplicaReads(t *testing.T) {
	now := time.Now()
	live := func(reads int) Announcement { return Announcement{Reads: reads, At: now.Add(-time.Second)} }
	gone := func(reads int) Announcement {
		return Announcement{Reads: reads, At: now.Add(-LiveWithin - time.Second)}
	}
	for _, c := range []struct {
		name            string
		recorded, reads int
		others          []Announcement
		want            int
		switchTo        bool
	}{
		{"alone, nothing newer", 1, 1, nil, 1, false},
		{"an older replica live", 1, 2, []Announcement{live(2), live(1)}, 1, false},
		{"every replica reads 2", 1, 2, []Announcement{live(2), live(3)}, 2, true},
		{"the older replica gone", 1, 2, []Announcement{gone(1), live(2)}, 2, true},
		{"never back", 3, 2, []Announcement{live(1)}, 3, false},
	} {
		got, sw := Agreed(c.recorded, c.reads, c.others, now)
		if got != c.want || sw != c.switchTo {
			t.Errorf("%s: Agreed = %d, %v; want %d, %v", c.name, got, sw, c.want, c.switchTo)
		}
	}
}

// A task-group member that no live announcement names holds the version
// agreed at First: it runs a build from before announcements, or its
// announcements stopped. One whose announcement is live is itself.
func TestATaskGroupMemberThatAnnouncesNothingReadsOnlyTheFirstVersion(t *testing.T) {
	now := time.Now()
	instanceOf := func(agent string) string { return "instance-" + agent }
	announced := []Announcement{
		{Agent: "new", Reads: 2, At: now.Add(-time.Second)},
		{Agent: "stale", Reads: 2, At: now.Add(-LiveWithin - time.Second)},
	}
	members := []string{"instance-new", "instance-old", "instance-stale", "instance-old"}
	silent := Unannounced(members, announced, instanceOf, now)
	var names []string
	for _, a := range silent {
		if a.Reads != First || !a.At.Equal(now) {
			t.Errorf("%+v: want it to read %d, live now", a, First)
		}
		names = append(names, a.Agent)
	}
	if fmt.Sprint(names) != "[instance-old instance-stale]" {
		t.Fatalf("unannounced %v, want [instance-old instance-stale], each once", names)
	}
	if v, sw := Agreed(1, 2, append(announced, silent...), now); v != 1 || sw {
		t.Fatalf("Agreed = %d, %v with a silent member; want 1, no switch", v, sw)
	}
}

// A record without a version is version 1; one above Reads, or whose
// version is no number, is refused.
func TestCheckReadsAMissingVersionAsOneAndRefusesUnknownOnes(t *testing.T) {
	r := &kgo.Record{}
	if v, err := Check(r); v != First || err != nil {
		t.Fatalf("no header: %d, %v", v, err)
	}
	Stamp(r, Current)
	if v, err := Check(r); v != Current || err != nil || len(r.Headers) != 1 {
		t.Fatalf("stamped: %d, %v, %v", v, err, r.Headers)
	}
	for _, bad := range []string{"2", "x", "0"} {
		r.Headers[0].Value = []byte(bad)
		if _, err := Check(r); !errors.Is(err, ErrUnknownVersion) {
			t.Errorf("version %q: %v, want it refused", bad, err)
		}
	}
}
