package checkpoint

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// idlePlan is what the checkpoint rules allow to commit to groups on the
// target, and what the target said about each group.
type idlePlan struct {
	commits map[string]kadm.Offsets         // forward moves, per group
	current map[string]kadm.OffsetResponses // the target's offsets, per group
	live    map[string]int                  // groups with live members: left alone
	failed  map[string]string               // groups the target could not be asked about
}

// planIdle applies the checkpoint rules to wanted offsets: a group with live
// members on the target is left to them, and a partition never moves back
// unless back names it (per group, target topic and partition): the source
// group itself went back there, and the target follows it.
func planIdle(ctx context.Context, dst *kadm.Client, wanted map[string]kadm.Offsets, back map[string]map[tpKey]bool) idlePlan {
	pl := idlePlan{commits: map[string]kadm.Offsets{}, current: map[string]kadm.OffsetResponses{}, live: map[string]int{}, failed: map[string]string{}}
	if len(wanted) == 0 {
		return pl
	}
	groups := make([]string, 0, len(wanted))
	for g := range wanted {
		groups = append(groups, g)
	}
	described, err := dst.DescribeGroups(ctx, groups...)
	if err != nil && len(described) == 0 {
		for _, g := range groups {
			pl.failed[g] = "describe group: " + err.Error()
		}
		return pl
	}
	fetched := dst.FetchManyOffsets(ctx, groups...)
	for _, g := range groups {
		d := described[g]
		// A group that does not exist on the target yet has no members;
		// some brokers say so with GROUP_ID_NOT_FOUND, Kafka with "Dead".
		if d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
			pl.failed[g] = "describe group: " + d.Err.Error()
			continue
		}
		if n := len(d.Members); n > 0 {
			pl.live[g] = n
			continue
		}
		cur := fetched[g]
		if cur.Err != nil && !errors.Is(cur.Err, kerr.GroupIDNotFound) { // no group: no offsets yet
			pl.failed[g] = "read committed offsets: " + cur.Err.Error()
			continue
		}
		pl.current[g] = cur.Fetched
		forward := kadm.Offsets{}
		wanted[g].Each(func(o kadm.Offset) {
			if have, ok := cur.Fetched.Lookup(o.Topic, o.Partition); ok && have.Err == nil &&
				(have.At == o.At || have.At > o.At && !back[g][tpKey{o.Topic, o.Partition}]) {
				return // already there, or ahead: never backwards on the agent's own account
			}
			forward.Add(o)
		})
		if len(forward) > 0 {
			pl.commits[g] = forward
		}
	}
	return pl
}

// send commits offsets, one request per group and several groups at a time:
// a round of a thousand groups is bound by round trips, not by work. Topics
// the target does not have yet are left out (and said, in waiting), since
// one of them would make the broker refuse the group's whole request.
func send(ctx context.Context, cl *kgo.Client, commits map[string]kadm.Offsets) (waiting, failed map[string]string) {
	failed = map[string]string{}
	ids, err := topicIDs(ctx, kadm.NewClient(cl), commits)
	if err != nil {
		for g := range commits {
			failed[g] = "look up topics: " + err.Error()
		}
		return nil, failed
	}
	waiting = withoutUnknownTopics(commits, ids)
	for g, err := range commitConcurrently(ctx, cl, commits, ids) {
		failed[g] = "commit: " + err.Error()
	}
	return waiting, failed
}

// CommitIdle commits translated offsets to groups on the target, with the
// checkpoint rules: only groups without live members there, and never
// moving a partition backwards. It answers how many partitions it
// committed and, per group, why it committed nothing or not everything.
func CommitIdle(ctx context.Context, target *kgo.Client, offsets map[string]kadm.Offsets) (int, map[string]string) {
	done := CommitIdleGroups(ctx, target, offsets)
	skipped := done.Failed
	for g, n := range done.Live {
		skipped[g] = LiveReason(n)
	}
	return done.Committed, skipped
}

// IdleCommit is what CommitIdleGroups did.
type IdleCommit struct {
	Committed int               // partitions committed
	Live      map[string]int    // groups with live members on the target, left to them
	Failed    map[string]string // groups committed not at all or in part, and why
}

// LiveReason says why a group with n live members got no commit.
func LiveReason(n int) string {
	return fmt.Sprintf("the group has %d live members on the target; its offsets are left to them", n)
}

// CommitIdleGroups is CommitIdle with live groups told apart from failures.
func CommitIdleGroups(ctx context.Context, target *kgo.Client, offsets map[string]kadm.Offsets) IdleCommit {
	pl := planIdle(ctx, kadm.NewClient(target), offsets, nil)
	done := IdleCommit{Live: pl.live, Failed: pl.failed}
	waiting, failed := send(ctx, target, pl.commits)
	for g, why := range waiting {
		done.Failed[g] = "topics " + why
	}
	for g, os := range pl.commits {
		if why, ok := failed[g]; ok {
			done.Failed[g] = why
			continue
		}
		os.Each(func(kadm.Offset) { done.Committed++ })
	}
	return done
}
