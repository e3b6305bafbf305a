package topology

import (
	"testing"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

func mirror(name, source, target, naming string, include []string, exclude ...string) agentapi.Mirror {
	return agentapi.Mirror{Name: name, Source: source, Target: target, ReplicationPolicy: naming,
		Topics: agentapi.Selector{Include: include, Exclude: exclude}}
}

const id, prefix = agentapi.ReplicationIdentity, agentapi.ReplicationPrefix

func TestOverlapFindsTheNamesTwoMirrorsWouldBothWrite(t *testing.T) {
	all := []string{`LH\..*`}
	for _, c := range []struct {
		name string
		a, b agentapi.Mirror
		want bool
	}{
		{"one topic inside a wider selection", mirror("a", "na", "eu", id, all), mirror("b", "na", "eu", id, []string{`LH\.dup`}), true},
		{"disjoint selections", mirror("a", "na", "eu", id, []string{`LH\.a.*`}), mirror("b", "na", "eu", id, []string{`LH\.b.*`}), false},
		{"the same names from two sources", mirror("a", "na", "eu", id, all), mirror("b", "sa", "eu", id, all), true},
		{"prefixed by two sources", mirror("a", "na", "eu", prefix, all), mirror("b", "sa", "eu", prefix, all), false},
		{"a prefixed name an identity mirror also selects", mirror("a", "na", "eu", prefix, all), mirror("b", "sa", "eu", id, []string{`na\.LH\..*`}), true},
		{"different targets", mirror("a", "na", "eu", id, all), mirror("b", "na", "sa", id, all), false},
		{"excluded where the other includes", mirror("a", "na", "eu", id, all, `LH\.dup`), mirror("b", "na", "eu", id, []string{`LH\.dup`}), false},
		{"only on quarantine topics, never mirrored", mirror("a", "na", "eu", id, []string{`.*\.diverged`}), mirror("b", "na", "eu", id, all), false},
		{"case folded", mirror("a", "na", "eu", id, []string{`(?i)lh\.x`}), mirror("b", "na", "eu", id, []string{`LH\.X`}), true},
		{"only the empty name", mirror("a", "na", "eu", id, []string{`x*`}), mirror("b", "na", "eu", id, []string{`y*`}), false}, // "" names no topic
	} {
		if got := Overlap(c.a, c.b); got != c.want {
			t.Errorf("%s: Overlap = %v, want %v", c.name, got, c.want)
		}
		if got := Overlap(c.b, c.a); got != c.want {
			t.Errorf("%s, the other way: Overlap = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCyclesFindsMirrorsThatCopyRecordsBackWhereTheyCameFrom(t *testing.T) {
	all := []string{`LH\..*`}
	naEU := mirror("na-to-eu", "na", "eu", id, all)
	for _, c := range []struct {
		name   string
		others []agentapi.Mirror
		want   int // mirrors in the first cycle found, 0 for none
	}{
		{"back under the same names", []agentapi.Mirror{mirror("eu-to-na", "eu", "na", id, all, `LH\..*\.diverged`)}, 2},
		{"back on other topics only", []agentapi.Mirror{mirror("eu-to-na", "eu", "na", id, []string{`OTHER\..*`})}, 0},
		{"back under a prefix that is not selected again", []agentapi.Mirror{mirror("eu-to-na", "eu", "na", prefix, all)}, 0},
		{"round three regions", []agentapi.Mirror{mirror("eu-to-sa", "eu", "sa", id, all), mirror("sa-to-na", "sa", "na", id, all)}, 3},
		{"on to a third region only", []agentapi.Mirror{mirror("eu-to-sa", "eu", "sa", id, all)}, 0},
	} {
		got := 0
		Cycles(naEU, append([]agentapi.Mirror{naEU}, c.others...), func(cycle []agentapi.Mirror) bool {
			got = len(cycle)
			return false
		})
		if got != c.want {
			t.Errorf("%s: a cycle of %d mirrors, want %d", c.name, got, c.want)
		}
	}
	// With a prefix that the way back does select, names grow without end.
	grows := mirror("a", "na", "eu", prefix, []string{`.*`})
	found := false
	Cycles(grows, []agentapi.Mirror{grows, mirror("b", "eu", "na", id, []string{`.*`})}, func([]agentapi.Mirror) bool { found = true; return false })
	if !found {
		t.Error("na -> eu prefixed and eu -> na of every name: no cycle found")
	}
}
