package offsetsync

import (
	"testing"
)

// FuzzSyncRecord decodes whatever the fuzzer makes of an offset-sync
// record and adds it to a partition's log that holds one run already: no
// panic, and a sync the log refuses translates nothing differently.
func FuzzSyncRecord(f *testing.F) {
	for _, s := range []string{
		`{"topic":"t","partition":0,"runs":[{"source":10,"target":110,"count":5}],"source_next":15,"target_topic":"t"}`,
		`{"topic":"t","partition":0,"runs":[],"source_next":30,"skipped":10}`,
		`{"topic":"t","partition":0,"runs":[{"source":3,"target":1,"count":-1}],"source_next":2}`,
		`{"topic":"t","partition":0,"runs":[{"source":9223372036854775807,"target":0,"count":9223372036854775807}]}`,
		`{"topic":"t","partition":0,"source_next":-1}`,
		`{"topic":"t",`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Decode(raw)
		if err != nil {
			return
		}
		var l Log
		if err := l.Add(Sync{Topic: "t", Runs: []Run{{Source: 0, Target: 100, Count: 10}}, SourceNext: 10}); err != nil {
			t.Fatal(err)
		}
		before := translations(&l)
		if err := l.Add(s); err != nil {
			if after := translations(&l); after != before {
				t.Fatalf("a refused sync %s (%v) changed the translations:\n before %v\n after  %v", raw, err, before, after)
			}
		}
		_, _ = l.LastSource()
		_ = l.TranslateCommitted(s.SourceNext)
	})
}

type translated struct {
	target int64
	ok     bool
	cp     Checkpoint
}

func translations(l *Log) [40]translated {
	var out [40]translated
	for i := range out {
		out[i].target, out[i].ok = l.Translate(int64(i))
		out[i].cp = l.TranslateCommitted(int64(i))
	}
	return out
}
