package agent

import (
	"context"
	"log/slog"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/recordformat"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// forgetReplicaAfter is how long a silent replica's announcement stays.
const forgetReplicaAfter = time.Hour

// announceFormat publishes this replica's announcement every
// recordformat.AnnounceEvery and records the switch to a newer record format
// once every live replica reads it (recordformat.Agreed); a member of a task
// group that announces nothing counts as reading the first format. It decides
// nothing before its board has read the status topic to its end: a replica
// just started would take itself for the only one.
func announceFormat(ctx context.Context, st *store.Store, board *mirror.Board, agentID, build string, log *slog.Logger) {
	t := time.NewTicker(recordformat.AnnounceEvery)
	defer t.Stop()
	for ; ; waitTick(ctx, t) {
		if ctx.Err() != nil {
			return
		}
		now := time.Now().UTC()
		board.Announce(ctx, recordformat.Announcement{Agent: agentID, Build: build, Reads: recordformat.Reads, At: now})
		if read, err := board.ReadToEnd(ctx); !read {
			if err != nil {
				log.Warn("cannot tell which replicas are live yet", "error", err)
			}
			continue
		}
		members, err := board.TaskMembers(ctx)
		if err != nil {
			log.Warn("cannot tell which replicas are live yet", "error", err)
			continue
		}
		live := board.Replicas()
		live = append(live, recordformat.Unannounced(members, live, mirror.MemberInstance, now)...)
		seen := map[string]int{}
		var names []string
		for _, a := range live {
			switch {
			case a.LiveAt(now):
				seen[a.Agent] = a.Reads
				names = append(names, a.Agent)
			case now.Sub(a.At) > forgetReplicaAfter:
				board.ForgetReplica(ctx, a.Agent)
			}
		}
		v, switchTo := recordformat.Agreed(st.Format(), recordformat.Reads, live, now)
		st.NoteLive(seen)
		if switchTo {
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := st.RecordFormat(wctx, store.FormatSwitch{Version: v, Replicas: names, At: now})
			cancel()
			if err != nil {
				log.Warn("could not record the switch to a newer record format; trying again", "version", v, "error", err)
			} else {
				log.Info("every live replica reads a newer record format: switched", "version", v, "replicas", names)
			}
		}
	}
}

func waitTick(ctx context.Context, t *time.Ticker) {
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
