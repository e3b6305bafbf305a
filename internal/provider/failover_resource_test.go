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
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/agentclient"
	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

func failoverConfig(e *accEnv, active, mode string) string {
	return failoverConfigWith(e, `  fencing = "none"`, active, mode)
}

// failoverConfigWith is failoverConfig with policy's attribute lines.
func failoverConfigWith(e *accEnv, policy, active, mode string) string {
	return policyConfig(e, policy, fmt.Sprintf(`
resource "kafka_failover" "lh" {
  policy         = kafka_failover_policy.lh.name
  active_cluster = %q
  mode           = %q
  timeouts {
    update = "5m"
  }
}
`, active, mode))
}

// TestAccFailoverAdoptsThenFailsOverAndReports creates the whole story on
// two real clusters and a real agent: clusters, a mirror, a policy and a
// kafka_failover that adopts north-america without flipping. Records and a
// consumer group's offsets reach europe. Changing active_cluster to europe
// (forced) fails over: epoch 1, the report computed, discovery answers
// europe; plans are empty after each apply, and imports match the state.
// The clusters' write-only passwords and client keys never reach the state.
//
// It is in the short set: `make test` runs it on dev clusters and on Apache
// Kafka, both with SASL_SSL on every connection of the agent.
//
// terraform-plugin-testing cannot see plan warnings, so the flip step's
// PreConfig checks the agent's forecast through its API and runs the
// resource's ModifyPlan (what terraform plan calls) against the same agent,
// checking the warning it adds.
func TestAccFailoverAdoptsThenFailsOverAndReports(t *testing.T) {
	kafkatest.EachKind(t, func(t *testing.T, kind string) { adoptThenFailOverAndReport(t, startEnvOfKind(t, kind)) })
}

func adoptThenFailOverAndReport(t *testing.T, e *accEnv) {
	const topic, partitions, perPartition, group = "LH.orders", 3, 20, "consumer-southamerica"
	kafkatest.CreateTopic(t, e.source.Bootstrap(), topic, partitions, nil, e.sourceOpts()...)
	kafkatest.NewProducer(t, e.source.Bootstrap(), e.sourceOpts()...).Produce(t, topic, partitions, perPartition)
	commitGroup(t, e.source, group, topic, partitions, 10)

	name := "kafka_failover.lh"
	servers := func(c interface{ Bootstrap() []string }) knownvalue.Check {
		var checks []knownvalue.Check
		for _, s := range c.Bootstrap() {
			checks = append(checks, knownvalue.StringExact(s))
		}
		return knownvalue.ListExact(checks)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: failoverConfig(e, "north-america", "planned"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("epoch"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("active_bootstrap_servers"), servers(e.source)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("report"), knownvalue.Null()),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("completed_at"), knownvalue.Null()),
				},
				Check: resource.ComposeTestCheckFunc(
					discoveryAnswers(e, "north-america", 0),
					recordsMirrored(t, e, topic, partitions*perPartition),
					groupCheckpointed(e, group, partitions),
					secretsNotInState(e),
				),
			},
			{
				ResourceName:                         name,
				ImportState:                          true,
				ImportStateId:                        "loosehanger",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "policy",
				ImportStateVerifyIgnore:              []string{"timeouts"},
			},
			{
				PreConfig: func() { checkForecast(t, e, group) },
				Config:    failoverConfig(e, "europe", "forced"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(name, plancheck.ResourceActionUpdate),
						plancheck.ExpectUnknownValue(name, tfjsonpath.New("epoch")),
						plancheck.ExpectUnknownValue(name, tfjsonpath.New("report")),
						plancheck.ExpectUnknownValue(name, tfjsonpath.New("completed_at")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("epoch"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("active_bootstrap_servers"), servers(e.target)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("completed_at"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("report").AtMapKey("records_lost"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("report").AtMapKey("partitions_total"), knownvalue.Int64Exact(partitions)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("report").AtMapKey("partitions"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("report").AtMapKey("groups"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"group":                knownvalue.StringExact(group),
							"records_not_mirrored": knownvalue.Int64Exact(0),
							"partitions":           knownvalue.Int64Exact(partitions),
						}),
					})),
					// The policy resource refreshes to the new active cluster without a diff.
					statecheck.ExpectKnownValue("kafka_failover_policy.lh", tfjsonpath.New("primary"), knownvalue.StringExact("north-america")),
				},
				Check: resource.ComposeTestCheckFunc(discoveryAnswers(e, "europe", 1), secretsNotInState(e)),
			},
			// A plan of the same configuration, from a fresh refresh, is empty:
			// epoch, report and the policy's active cluster cause no diff.
			{Config: failoverConfig(e, "europe", "forced"), PlanOnly: true},
			{
				ResourceName:                         name,
				ImportState:                          true,
				ImportStateId:                        "loosehanger",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "policy",
				ImportStateVerifyIgnore:              []string{"timeouts", "mode", "forecast"},
			},
			// north-america is diverged now, and the policy the only record
			// of it: a destroy is refused and says how to go on.
			{
				Config:      failoverConfig(e, "europe", "forced"),
				Destroy:     true,
				ExpectError: regexp.MustCompile(`(?s)A Diverged Cluster Keeps This Policy.*north-america was left behind.*forget_diverged_on_destroy = true`),
			},
			// Told to forget, the final destroy deletes the policy.
			{
				Config: failoverConfigWith(e, "  fencing = \"none\"\n  forget_diverged_on_destroy = true", "europe", "forced"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("kafka_failover_policy.lh", tfjsonpath.New("forget_diverged_on_destroy"), knownvalue.Bool(true)),
				},
			},
		},
		CheckDestroy: func(*terraform.State) error {
			if _, err := e.client.GetPolicy(context.Background(), "loosehanger"); !agentclient.IsNotFound(err) {
				return fmt.Errorf("policy loosehanger after the destroy: %v, want not found", err)
			}
			return nil
		},
	})
}

// TestAccFailoverShowsAFailoverMadeOutsideTerraform adopts north-america,
// then fails over to europe through the agent's API (planned): the refresh
// moves active_cluster to europe, so the plan shows a change back to the
// configuration's north-america; configuring europe adopts it with an
// empty plan and the failover's report.
func TestAccFailoverShowsAFailoverMadeOutsideTerraform(t *testing.T) {
	e := startEnv(t)
	name := "kafka_failover.lh"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: failoverConfig(e, "north-america", "planned"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				PreConfig: func() {
					epoch := int64(0)
					f, err := e.client.Failover(context.Background(), "loosehanger", agentapi.FailoverRequest{
						To: "europe", Mode: agentapi.ModePlanned, RequestID: "by-hand-1", ExpectedEpoch: &epoch}, time.Minute)
					if err != nil || f.Epoch != 1 {
						t.Fatalf("failover through the API: %+v, %v", f, err)
					}
				},
				Config:             failoverConfig(e, "north-america", "planned"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(name, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(name, tfjsonpath.New("active_cluster"), knownvalue.StringExact("north-america")),
						plancheck.ExpectUnknownValue(name, tfjsonpath.New("epoch")),
					},
				},
			},
			{
				Config: failoverConfig(e, "europe", "planned"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("active_cluster"), knownvalue.StringExact("europe")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("epoch"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("completed_at"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("report").AtMapKey("records_lost"), knownvalue.Int64Exact(0)),
				},
				Check: discoveryAnswers(e, "europe", 1),
			},
		},
	})
}

// commitGroup commits offset n on every partition of topic for group.
func commitGroup(t *testing.T, c kafkatest.Kafka, group, topic string, partitions int32, n int64) {
	t.Helper()
	adm := kadm.NewClient(kafkatest.ClientOf(t, c))
	offsets := kadm.Offsets{}
	for p := int32(0); p < partitions; p++ {
		offsets.AddOffset(topic, p, n, -1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := adm.CommitOffsets(ctx, group, offsets)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("commit offsets of %s: %v", group, err)
	}
}

// groupCheckpointed waits until the agent has checkpointed every partition
// of group, so that a failover report lists it.
func groupCheckpointed(e *accEnv, group string, partitions int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		deadline := time.Now().Add(60 * time.Second)
		var last string
		for time.Now().Before(deadline) {
			g, err := e.client.GroupCheckpoints(context.Background(), "na-to-eu", group)
			if err == nil && len(g.Partitions) == partitions {
				return nil
			}
			last = fmt.Sprintf("%+v, %v", g, err)
			time.Sleep(200 * time.Millisecond)
		}
		return fmt.Errorf("group %s not checkpointed on %d partitions within 60s: %s", group, partitions, last)
	}
}

// discoveryAnswers checks GET /v1/policies/loosehanger/active.
func discoveryAnswers(e *accEnv, cluster string, epoch int64) resource.TestCheckFunc {
	return func(*terraform.State) error {
		a, err := e.client.Active(context.Background(), "loosehanger")
		if err != nil {
			return err
		}
		if a.Cluster != cluster || a.Epoch != epoch {
			return fmt.Errorf("discovery answers %s at epoch %d, want %s at epoch %d", a.Cluster, a.Epoch, cluster, epoch)
		}
		return nil
	}
}

// checkForecast asks the agent what the plan's failover would cost, as the
// refresh before the plan does.
func checkForecast(t *testing.T, e *accEnv, group string) {
	fc, err := e.client.Forecast(context.Background(), "loosehanger", "europe")
	if err != nil {
		t.Fatalf("forecast: %v", err)
	}
	if fc.From != "north-america" || fc.To != "europe" || fc.Report.RecordsLost != 0 || len(fc.Report.Groups) != 1 || fc.Report.Groups[0].Group != group {
		t.Fatalf("forecast = %+v", fc)
	}
}
