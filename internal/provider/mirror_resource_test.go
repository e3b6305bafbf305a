package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

func mirrorConfig(e *accEnv, source, mirror string) string {
	return e.providerBlock() + e.clusterBlock("na", "north-america", e.source) + e.clusterBlock("eu", "europe", e.target) + fmt.Sprintf(`
resource "kafka_mirror" "na_to_eu" {
  name   = "na-to-eu"
  source = %s
  target = kafka_cluster.eu.name
%s
}
`, source, mirror)
}

// TestAccMirrorCreateImportUpdateAndCopiesRecords creates a mirror between
// two real clusters through a real agent and shows that records arrive on
// the target; then imports it, updates it in place (checkpoint settings
// included) and imports it again, updates tasks_max in place without copying
// a record twice, and shows an empty plan after every apply. A first step
// shows that a source no cluster has is refused by the plan, on the
// attribute.
func TestAccMirrorCreateImportUpdateAndCopiesRecords(t *testing.T) {
	e := startEnv(t)
	const topic, partitions, perPartition = "LH.orders", 3, 50
	kafkatest.CreateTopic(t, e.source.Bootstrap(), topic, partitions, nil, e.sourceOpts()...)
	kafkatest.NewProducer(t, e.source.Bootstrap(), e.sourceOpts()...).Produce(t, topic, partitions, perPartition)

	name := "kafka_mirror.na_to_eu"
	created := `  topics = { include = ["LH\\..*"] }
  groups = { include = ["consumer-.*"] }`
	updated := `  topics             = { include = ["LH\\..*"], exclude = ["LH\\.internal.*"] }
  groups             = { include = ["consumer-.*"] }
  start_from          = "latest"
  sync_topic_configs  = true
  refresh_interval    = "5s"
  checkpoint_interval = "250ms"
  sync_group_offsets  = false
  sync_acls           = false`
	rescaled := updated + "\n  tasks_max = 2"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config:      mirrorConfig(e, `"no-such-cluster"`, created),
				ExpectError: regexp.MustCompile(`(?s)Unknown Cluster.*source = "no-such-cluster".*no\s+cluster\s+named\s+"no-such-cluster"`),
			},
			{
				Config: mirrorConfig(e, "kafka_cluster.na.name", created),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("replication_policy"), knownvalue.StringExact("identity")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("start_from"), knownvalue.StringExact("earliest")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("refresh_interval"), knownvalue.StringExact("10s")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tasks_max"), knownvalue.Int64Exact(4)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("replication_factor"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("sync_topic_configs"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("checkpoint_interval"), knownvalue.StringExact("1s")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("sync_group_offsets"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("sync_acls"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("topics").AtMapKey("exclude"), knownvalue.Null()),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("created_at"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("state"), knownvalue.NotNull()),
				},
				Check: resource.ComposeTestCheckFunc(recordsMirrored(t, e, topic, partitions*perPartition), agentCheckpoints(e, "1s", true)),
			},
			{
				ResourceName:                         name,
				ImportState:                          true,
				ImportStateId:                        "na-to-eu",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				// Status moves on by itself between two reads.
				ImportStateVerifyIgnore: []string{"state", "lag_records"},
			},
			{
				Config: mirrorConfig(e, "kafka_cluster.na.name", updated),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(name, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(name, tfjsonpath.New("created_at"), knownvalue.NotNull()),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("start_from"), knownvalue.StringExact("latest")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("refresh_interval"), knownvalue.StringExact("5s")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("sync_topic_configs"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("topics").AtMapKey("exclude"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(`LH\.internal.*`)})),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("checkpoint_interval"), knownvalue.StringExact("250ms")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("sync_group_offsets"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("sync_acls"), knownvalue.Bool(false)),
				},
				Check: resource.ComposeTestCheckFunc(agentCheckpoints(e, "250ms", false), agentSyncsACLs(e, false)),
			},
			// sync_group_offsets = false survives an import as false, not null.
			{
				ResourceName:                         name,
				ImportState:                          true,
				ImportStateId:                        "na-to-eu",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				// Status moves on by itself between two reads.
				ImportStateVerifyIgnore: []string{"state", "lag_records"},
			},
			{
				Config: mirrorConfig(e, "kafka_cluster.na.name", rescaled),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tasks_max"), knownvalue.Int64Exact(2)),
				},
				// Every partition resumes where it stood under 4 tasks.
				Check: recordsMirrored(t, e, topic, partitions*perPartition),
			},
			// Another source under the same name and target would resume
			// from the old source's offset syncs: the plan refuses it.
			{
				Config:      mirrorConfig(e, `"south-america"`, rescaled),
				ExpectError: regexp.MustCompile(`(?s)Mirror Needs A New Name.*Changing source replaces mirror na-to-eu.*Give the mirror a\s+new\s+name`),
			},
		},
	})
}

// agentSyncsACLs checks the sync_acls the agent stored.
func agentSyncsACLs(e *accEnv, sync bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		m, err := e.client.GetMirror(context.Background(), "na-to-eu")
		if err != nil {
			return err
		}
		if m.SyncACLs == nil || *m.SyncACLs != sync {
			return fmt.Errorf("agent stored sync_acls %v; want %v", m.SyncACLs, sync)
		}
		return nil
	}
}

// agentCheckpoints checks the checkpoint settings the agent stored.
func agentCheckpoints(e *accEnv, interval string, sync bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		m, err := e.client.GetMirror(context.Background(), "na-to-eu")
		if err != nil {
			return err
		}
		got := "absent"
		if m.SyncGroupOffsets != nil {
			got = fmt.Sprint(*m.SyncGroupOffsets)
		}
		if m.CheckpointInterval != interval || got != fmt.Sprint(sync) {
			return fmt.Errorf("agent stored checkpoint_interval %q, sync_group_offsets %s; want %q, %v", m.CheckpointInterval, got, interval, sync)
		}
		return nil
	}
}

// recordsMirrored waits until the target holds want records of topic, as
// the agent's status and a read of the target topic both show.
func recordsMirrored(t *testing.T, e *accEnv, topic string, want int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		deadline := time.Now().Add(60 * time.Second)
		var last string
		for time.Now().Before(deadline) {
			st, err := e.client.MirrorStatus(context.Background(), "na-to-eu")
			if err != nil {
				return err
			}
			var copied int64
			for _, p := range st.Partitions {
				copied += p.LastMirroredOffset + 1
			}
			last = fmt.Sprintf("state %s, %d partitions, %d records copied, lag %d", st.State, len(st.Partitions), copied, st.LagRecords)
			if copied == int64(want) && st.LagRecords == 0 {
				got := 0
				for _, recs := range kafkatest.ReadAll(t, e.target.Bootstrap(), topic, e.targetOpts()...) {
					got += len(recs)
				}
				if got != want {
					return fmt.Errorf("agent status says %d records copied, the target topic holds %d", want, got)
				}
				return nil
			}
			time.Sleep(200 * time.Millisecond)
		}
		return fmt.Errorf("mirror did not copy %d records within 60s; last status: %s", want, last)
	}
}
