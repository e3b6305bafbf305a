package checkpoint

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// CommitIdle commits translated offsets to groups on the target, with the
// checkpoint rules: only groups without live members there, and never
// moving a partition backwards. It answers how many partitions it
// committed and, per group, why it committed nothing.
func CommitIdle(ctx context.Context, target *kgo.Client, offsets map[string]kadm.Offsets) (int, map[string]string) {
	skipped := map[string]string{}
	if len(offsets) == 0 {
		return 0, skipped
	}
	dst := kadm.NewClient(target)
	groups := make([]string, 0, len(offsets))
	for g := range offsets {
		groups = append(groups, g)
	}
	described, err := dst.DescribeGroups(ctx, groups...)
	if err != nil && len(described) == 0 {
		for _, g := range groups {
			skipped[g] = "describe group: " + err.Error()
		}
		return 0, skipped
	}
	current := dst.FetchManyOffsets(ctx, groups...)
	commits := map[string]kadm.Offsets{}
	for _, g := range groups {
		d := described[g]
		if d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
			skipped[g] = "describe group: " + d.Err.Error()
			continue
		}
		if n := len(d.Members); n > 0 {
			skipped[g] = fmt.Sprintf("the group has %d live members on the target; its offsets are left to them", n)
			continue
		}
		cur := current[g]
		if cur.Err != nil && !errors.Is(cur.Err, kerr.GroupIDNotFound) {
			skipped[g] = "read committed offsets: " + cur.Err.Error()
			continue
		}
		forward := kadm.Offsets{}
		offsets[g].Each(func(o kadm.Offset) {
			if have, ok := cur.Fetched.Lookup(o.Topic, o.Partition); ok && have.Err == nil && have.At >= o.At {
				return // already there or ahead: never backwards
			}
			forward.Add(o)
		})
		if len(forward) > 0 {
			commits[g] = forward
		}
	}
	ids, err := topicIDs(ctx, dst, commits)
	if err != nil {
		for g := range commits {
			skipped[g] = "look up topics: " + err.Error()
		}
		return 0, skipped
	}
	for g, why := range withoutUnknownTopics(commits, ids) {
		skipped[g] = "topics " + why
	}
	failed := commitConcurrently(ctx, target, commits, ids)
	committed := 0
	for g, os := range commits {
		if err := failed[g]; err != nil {
			skipped[g] = "commit: " + err.Error()
			continue
		}
		os.Each(func(kadm.Offset) { committed++ })
	}
	return committed, skipped
}
