package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/kafka-failover/kafka-failover/internal/offsetsync"
)

// Hooks let the tests of the agent process drive the offset-sync history;
// the zero value is what the agent runs with.
type Hooks struct {
	// SnapshotFloor replaces snapshotFloor when positive; when negative,
	// tasks write no snapshot, as agents before snapshots did.
	SnapshotFloor int
	// Step, when set, is called at named points of the protocol
	// (StepSnapshotCommitted, StepSyncTopicMigrating), so that a test can
	// kill the process there.
	Step func(mirror, step string)
}

// The points Hooks.Step is called at.
const (
	// StepSnapshotCommitted: a task's snapshot is committed, and what it
	// restates is not deleted yet.
	StepSnapshotCommitted = "snapshot-committed"
	// StepSyncTopicMigrating: the sync topic is found compacted, and its
	// configs are not altered yet.
	StepSyncTopicMigrating = "sync-topic-migrating"
)

func (h Hooks) step(mirror, step string) {
	if h.Step != nil {
		h.Step(mirror, step)
	}
}

// ensureSyncTopic creates a mirror's offset-sync topic with at least n
// partitions and offsetsync.TopicConfigs, and migrates one an older agent
// created compacted. All the configs change in one IncrementalAlterConfigs
// request, so the topic never spends a moment with the broker's default
// retention; a crash before it leaves the topic compacted, and the next
// start migrates it again.
//
// A principal without AlterConfigs on the topic keeps it compacted: the
// mirror runs, and the history is not trimmed, which log says.
func ensureSyncTopic(ctx context.Context, adm *kadm.Client, mirror string, n int32, hooks Hooks, log *slog.Logger) error {
	topic := offsetsync.Topic(mirror)
	want := offsetsync.TopicConfigs()
	configs := map[string]*string{}
	for k, v := range want {
		configs[k] = &v
	}
	resp, err := adm.CreateTopic(ctx, n, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !isExists(err) {
		return err
	}
	if isExists(err) {
		have, err := SyncTopicConfigs(ctx, adm, mirror)
		if err != nil {
			return err
		}
		var alter []kadm.AlterConfig
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if have[k] != want[k] {
				alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: configs[k]})
			}
		}
		if len(alter) > 0 {
			hooks.step(mirror, StepSyncTopicMigrating)
			altered, err := adm.AlterTopicConfigs(ctx, alter, topic)
			if err == nil {
				_, err = altered.On(topic, nil)
			}
			if err == nil {
				for _, a := range altered {
					err = errors.Join(err, a.Err)
				}
			}
			switch {
			case isAuthorization(err):
				log.Warn("the offset-sync topic stays compacted, so its history is not trimmed: allow the agent's principal AlterConfigs on it",
					"topic", topic, "configs", want, "error", err)
			case err != nil:
				return fmt.Errorf("set %v on %s: %w", want, topic, err)
			default:
				log.Info("offset-sync topic migrated to the delete policy with unlimited retention", "topic", topic)
			}
		}
	}
	return ensurePartitions(ctx, adm, topic, n)
}

// SyncTopicConfigs answers the configs a mirror's offset-sync topic has,
// set or default.
func SyncTopicConfigs(ctx context.Context, adm *kadm.Client, mirror string) (map[string]string, error) {
	topic := offsetsync.Topic(mirror)
	described, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("configs of %s: %w", topic, err)
	}
	rc, err := described.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return nil, fmt.Errorf("configs of %s: %w", topic, err)
	}
	have := map[string]string{}
	for _, c := range rc.Configs {
		if c.Value != nil {
			have[c.Key] = *c.Value
		}
	}
	return have, nil
}

// isAuthorization reports whether Kafka refused an operation to the
// agent's principal.
func isAuthorization(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}
