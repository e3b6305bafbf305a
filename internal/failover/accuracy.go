package failover

import (
	"fmt"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
)

// observation is a source partition's high watermark and when the source
// was asked for it.
type observation struct {
	hwm int64
	at  time.Time
}

// describeAccuracy says how far a report's loss figures can be trusted, for
// the report of a failover and for a forecast alike. A planned failover
// counts on the fenced, drained source: its figures are final. Otherwise
// they are exact as of the source's last answer; a partition not observed
// within a watch round of that is a lower bound, records written to it since
// are unknown until the cluster returns.
func describeAccuracy(rep *agentapi.FailoverReport, from string, final bool) {
	defer func() {
		if rep.RecordsSkipped > 0 {
			rep.Accuracy += fmt.Sprintf("; %d of the records lost are offsets %s deleted (retention) before they were mirrored, "+
				"counted as offsets: transaction markers among them make that part an upper bound", rep.RecordsSkipped, from)
		}
	}()
	var last time.Time
	for _, p := range rep.Partitions {
		if p.HighWatermarkObservedAt.After(last) {
			last = p.HighWatermarkObservedAt
		}
	}
	if len(rep.Partitions) == 0 {
		return
	}
	if last.IsZero() {
		for i := range rep.Partitions {
			rep.Partitions[i].LowerBound = true
		}
		rep.Accuracy = fmt.Sprintf("unknown: the agent never observed %s's end offsets, the figures are lower bounds", from)
		return
	}
	rep.SourceLastContact = &last
	if final {
		rep.Accuracy = fmt.Sprintf("final: counted on %s after its writes were fenced and the mirrors drained", from)
		return
	}
	stale := 0
	for i := range rep.Partitions {
		if last.Sub(rep.Partitions[i].HighWatermarkObservedAt) > mirror.WatchInterval {
			rep.Partitions[i].LowerBound = true
			stale++
		}
	}
	rep.Accuracy = fmt.Sprintf("exact as of %s, when %s last answered; records written to it after that are not known until it returns", last.Format(time.RFC3339Nano), from)
	if stale > 0 {
		rep.Accuracy += fmt.Sprintf("; %d partition(s) were not observed then and their figures are lower bounds", stale)
	}
}
