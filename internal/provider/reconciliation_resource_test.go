package provider

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// reconcileConfig is two clusters, a mirror each way, a policy with both,
// its kafka_failover at active, and more after it.
func reconcileConfig(e *accEnv, active, mode, more string) string {
	return mirrorConfig(e, "kafka_cluster.na.name", `  topics = { include = ["LH\\..*"] }
  refresh_interval = "1s"`) + fmt.Sprintf(`
resource "kafka_mirror" "eu_to_na" {
  name             = "eu-to-na"
  source           = kafka_cluster.eu.name
  target           = kafka_cluster.na.name
  topics           = { include = ["LH\\..*"] }
  refresh_interval = "1s"
}

resource "kafka_failover_policy" "lh" {
  name     = "loosehanger"
  clusters = [kafka_cluster.na.name, kafka_cluster.eu.name]
  primary  = kafka_cluster.na.name
  mirrors  = [kafka_mirror.na_to_eu.name, kafka_mirror.eu_to_na.name]
  fencing  = "none"
}

resource "kafka_failover" "lh" {
  policy         = kafka_failover_policy.lh.name
  active_cluster = %q
  mode           = %q
}
%s`, active, mode, more)
}

const reconciliationBlock = `
resource "kafka_failover_reconciliation" "na" {
  policy  = kafka_failover.lh.policy
  cluster = "north-america"
}
`

// divergentTail is how many records writeDivergentTail writes.
const divergentTail = 7

// writeDivergentTail writes, after a forced failover to europe, records to
// partition 0 of topic on north-america, which is still up and which europe
// never gets them from, and checks that the policy knows it diverged.
func writeDivergentTail(t *testing.T, e *accEnv, topic string) {
	t.Helper()
	cl := kafkatest.ClientOf(t, e.source, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range divergentTail {
		r := &kgo.Record{Topic: topic, Partition: 0, Value: fmt.Appendf(nil, "written on north-america after the failover %d", i)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := e.client.GetPolicy(context.Background(), "loosehanger"); err != nil || fmt.Sprint(p.Diverged) != "[north-america]" {
		t.Fatalf("before the reconciliation: diverged %v (%v), want north-america", p.Diverged, err)
	}
}

// waitRecordsOn waits until topic holds n records on cluster c.
func waitRecordsOn(t *testing.T, c kafkatest.Kafka, topic string, n int, within time.Duration) {
	t.Helper()
	kafkatest.Eventually(t, within, fmt.Sprintf("%d records of %s on %s", n, topic, c.Declared().Name), func() (bool, string) {
		got := 0
		for _, recs := range kafkatest.ReadAll(t, c.Bootstrap(), topic, c.ClientOpts()...) {
			got += len(recs)
		}
		return got == n, fmt.Sprint(got, " records")
	})
}

// TestAccReconciliationQuarantinesTheTailAndRebuildsTheCluster: a forced
// failover leaves north-america behind while it is still up, and it takes
// 7 more records that europe never gets. Creating a
// kafka_failover_reconciliation copies exactly those 7 to
// LH.orders.diverged on europe, rebuilds north-america from europe, and
// makes it a standby again; the plan after it is empty, and the final
// destroy deletes the policy without forget_diverged_on_destroy.
func TestAccReconciliationQuarantinesTheTailAndRebuildsTheCluster(t *testing.T) {
	e := startEnv(t)
	const topic, partitions, perPartition = "LH.orders", 3, 20
	kafkatest.CreateTopic(t, e.source.Bootstrap(), topic, partitions, nil, e.sourceOpts()...)
	kafkatest.NewProducer(t, e.source.Bootstrap(), e.sourceOpts()...).Produce(t, topic, partitions, perPartition)
	name := "kafka_failover_reconciliation.na"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{Config: reconcileConfig(e, "north-america", "planned", "")},
			{
				// Everything is on europe before north-america is left behind.
				PreConfig: func() { waitRecordsOn(t, e.target, topic, partitions*perPartition, 30*time.Second) },
				Config:    reconcileConfig(e, "europe", "forced", ""),
				Check:     discoveryAnswers(e, "europe", 1),
			},
			{
				// north-america, still up, takes records europe never gets.
				PreConfig: func() { writeDivergentTail(t, e, topic) },
				Config: reconcileConfig(e, "europe", "forced", reconciliationBlock) + `
data "kafka_failover_status" "after" {
  policy     = "loosehanger"
  depends_on = [kafka_failover_reconciliation.na]
}`,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					// Known at the failover: nothing (north-america was
					// drained); found on its return: the 7 written after.
					statecheck.ExpectKnownValue("data.kafka_failover_status.after", tfjsonpath.New("last_failover").AtMapKey("records_lost"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue("data.kafka_failover_status.after", tfjsonpath.New("last_failover").AtMapKey("records_found_on_return"), knownvalue.Int64Exact(divergentTail)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("records_quarantined"), knownvalue.Int64Exact(divergentTail)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("diverged_epoch"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("active_cluster"), knownvalue.StringExact("europe")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("quarantine_topics"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(topic + ".diverged")})),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("request_id"), knownvalue.StringExact("terraform-loosehanger-reconcile-north-america-at-epoch-1")),
				},
				Check: func(*terraform.State) error {
					p, err := e.client.GetPolicy(context.Background(), "loosehanger")
					if err != nil {
						return err
					}
					if len(p.Diverged) != 0 {
						return fmt.Errorf("after the reconciliation: diverged %v, want none", p.Diverged)
					}
					quarantined := kafkatest.ReadAll(t, e.target.Bootstrap(), topic+".diverged", e.targetOpts()...)
					if len(quarantined[0]) != divergentTail || len(quarantined[1])+len(quarantined[2]) != 0 {
						return fmt.Errorf("%s.diverged holds %d/%d/%d records, want %d/0/0", topic, len(quarantined[0]), len(quarantined[1]), len(quarantined[2]), divergentTail)
					}
					for i, r := range quarantined[0] {
						if want := fmt.Sprintf("written on north-america after the failover %d", i); string(r.Value) != want {
							return fmt.Errorf("quarantined record %d is %q, want %q", i, r.Value, want)
						}
					}
					return nil
				},
			},
			// north-america is rebuilt from europe: a standby again.
			{
				PreConfig: func() { waitRecordsOn(t, e.source, topic, partitions*perPartition, 60*time.Second) },
				Config:    reconcileConfig(e, "europe", "forced", reconciliationBlock),
				PlanOnly:  true,
			},
			// Imported as policy/cluster, it is the same reconciliation.
			{
				ResourceName:                         name,
				ImportState:                          true,
				ImportStateId:                        "loosehanger/north-america",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "request_id",
				ImportStateVerifyIgnore:              []string{"timeouts"},
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if _, err := e.client.GetPolicy(context.Background(), "loosehanger"); err == nil {
				return fmt.Errorf("policy loosehanger still there after the destroy")
			}
			return nil
		},
	})
}

// The plan warning of a reconciliation says what it will delete, and that
// the agent will refuse a cluster that is not diverged.
func TestReconcileWarningSaysTheClusterIsRebuilt(t *testing.T) {
	p := agentapi.Policy{Name: "loosehanger", Active: "europe", Diverged: []string{"north-america"}}
	summary, detail := reconcileWarning(p, "north-america")
	if summary != "Reconciliation Rebuilds north-america" {
		t.Errorf("summary = %q", summary)
	}
	for _, want := range []string{
		"to <topic>.diverged on europe, the active cluster",
		"DELETE north-america's mirrored topics and rebuild them from europe",
		"make north-america a standby of policy loosehanger again",
	} {
		if !strings.Contains(detail, want) {
			t.Errorf("warning lacks %q:\n%s", want, detail)
		}
	}
	if summary, _ := reconcileWarning(p, "europe"); summary != "Nothing To Reconcile Now" {
		t.Errorf("a cluster that is not diverged: summary %q", summary)
	}
}
