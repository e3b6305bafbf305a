package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

// TestAccFailoverPlanCarriesTheForecastAsData plans failovers and reads the
// agent's forecast from the plan's data (terraform show -json, through plan
// checks): with the mirror stalled, a forced failover's forecast counts the
// records at risk and tells to stop the producers (fencing = "none"); a
// planned one says the agent will refuse it and which partition lags. Once
// the mirror caught up, a planned failover is applied from the saved plan:
// Terraform plans it again during apply and accepts the same forecast, the
// state keeps it, and the plans after it are empty.
func TestAccFailoverPlanCarriesTheForecastAsData(t *testing.T) {
	e := startEnv(t)
	const topic, partitions, group, burst = "LH.orders", 3, "consumer-southamerica", 500
	kafkatest.CreateTopic(t, e.source.Bootstrap(), topic, partitions, nil, e.sourceOpts()...)
	prod := kafkatest.NewProducer(t, e.source.Bootstrap(), e.sourceOpts()...)
	prod.Produce(t, topic, partitions, 10)
	commitGroup(t, e.source, group, topic, partitions, 5)
	// A producer's Write ACL: the mirror's sync_acls holds it for the flip.
	res, err := kadm.NewClient(kafkatest.Client(t, e.source.Bootstrap(), e.sourceOpts()...)).CreateACLs(context.Background(),
		kadm.NewACLs().Allow("User:producer").AllowHosts().ResourcePatternType(kadm.ACLPatternPrefixed).Topics("LH.").Operations(kadm.OpWrite))
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		t.Fatal(err)
	}
	const producerWrite = "ALLOW User:producer WRITE on TOPIC PREFIXED LH. from *"

	name := "kafka_failover.lh"
	forecast := tfjsonpath.New("forecast")
	config := func(active, mode string) string {
		return failoverConfigWith(e, "  fencing = \"none\"\n  max_lag_records = 100", active, mode)
	}
	outcomeHas := func(parts ...string) knownvalue.Check {
		return knownvalue.StringFunc(func(s string) error {
			for _, p := range parts {
				if !strings.Contains(s, p) {
					return fmt.Errorf("forecast outcome lacks %q:\n%s", p, s)
				}
			}
			if strings.Contains(s, "are fenced") || strings.Contains(s, "would fence writes") {
				return fmt.Errorf("forecast outcome claims writes are fenced with fencing = none:\n%s", s)
			}
			return nil
		})
	}
	atLeast := func(n int64) knownvalue.Check {
		return knownvalue.Int64Func(func(v int64) error {
			if v < n {
				return fmt.Errorf("%d, want at least %d", v, n)
			}
			return nil
		})
	}
	release := make(chan struct{})
	released := false
	releaseMirror := func() {
		if !released {
			released = true
			close(release)
		}
	}
	t.Cleanup(releaseMirror)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config("north-america", "planned"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, forecast, knownvalue.Null()),
				},
				Check: resource.ComposeTestCheckFunc(
					recordsMirrored(t, e, topic, partitions*10),
					groupCheckpointed(e, group, partitions),
				),
			},
			{
				PreConfig: func() {
					holdMirrorWrites(t, e, topic, release)
					prod.Produce(t, topic, 1, burst) // into partition 0 only
					waitForecast(t, e, func(at int64) bool { return at >= burst })
					kafkatest.Eventually(t, 30*time.Second, "the forecast lists the held Write ACL", func() (bool, string) {
						fc, err := e.client.Forecast(context.Background(), "loosehanger", "europe")
						return err == nil && len(fc.Report.ACLsApplied) == 1, fmt.Sprintf("%+v %v", fc.Report.ACLsApplied, err)
					})
				},
				Config:             config("europe", "forced"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction(name, plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("from"), knownvalue.StringExact("north-america")),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("to"), knownvalue.StringExact("europe")),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("mode"), knownvalue.StringExact("forced")),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("acls_applied"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(producerWrite)})),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("records_at_risk"), atLeast(burst)),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("partitions_total"), knownvalue.Int64Exact(partitions)),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("partitions").AtSliceIndex(0).AtMapKey("topic"), knownvalue.StringExact(topic)),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("partitions").AtSliceIndex(0).AtMapKey("partition"), knownvalue.Int64Exact(0)),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("partitions").AtSliceIndex(0).AtMapKey("records_lost"), atLeast(burst)),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("partitions").AtSliceIndex(0).AtMapKey("high_watermark_observed_at"), knownvalue.NotNull()),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("source_last_contact"), knownvalue.NotNull()),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("groups"), knownvalue.ListExact([]knownvalue.Check{
							knownvalue.ObjectPartial(map[string]knownvalue.Check{
								"group":          knownvalue.StringExact(group),
								"records_reread": knownvalue.Int64Exact(0),
								"partitions":     knownvalue.Int64Exact(partitions),
							}),
						})),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("outcome"), outcomeHas(
							`With mode = "forced" the records at risk are lost`, "producers still writing to it write records that are never mirrored; stop them")),
					},
				},
			},
			{
				Config:             config("europe", "planned"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("planned_possible"), knownvalue.Bool(false)),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("reason"), knownvalue.StringRegexp(regexp.MustCompile(`over the policy's limits`))),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("partitions").AtSliceIndex(0).AtMapKey("records_lost"), atLeast(burst)),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("outcome"), outcomeHas("the agent will refuse this failover now: wait until the partitions at risk have caught up")),
					},
				},
			},
			{
				PreConfig: func() {
					releaseMirror()
					waitForecast(t, e, func(at int64) bool { return at == 0 })
				},
				Config: config("europe", "planned"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("planned_possible"), knownvalue.Bool(true)),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("records_at_risk"), knownvalue.Int64Exact(0)),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("partitions"), knownvalue.ListSizeExact(0)),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("outcome"), outcomeHas("stop its producers before applying")),
						plancheck.ExpectKnownValue(name, forecast.AtMapKey("reason"), outcomeHas("the agent does not fence writes")),
						plancheck.ExpectUnknownValue(name, tfjsonpath.New("report")),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("epoch"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(name, forecast.AtMapKey("planned_possible"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("report").AtMapKey("records_lost"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("report").AtMapKey("partitions_total"), knownvalue.Int64Exact(partitions)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("report").AtMapKey("partitions_with_losses"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("report").AtMapKey("groups").AtSliceIndex(0).AtMapKey("records_reread"), knownvalue.Int64Exact(0)),
				},
			},
			// A plan that changes nothing keeps the forecast: it is empty.
			{Config: config("europe", "planned"), PlanOnly: true},
		},
	})
}

// holdMirrorWrites makes europe hold the mirror's produce requests to topic
// until release is closed, as a stuck target does: the task fetches nothing
// from north-america meanwhile, so what is produced there stays at risk.
func holdMirrorWrites(t *testing.T, e *accEnv, topic string, release <-chan struct{}) {
	t.Helper()
	td, err := kadm.NewClient(kafkatest.Client(t, e.target.Bootstrap(), e.targetOpts()...)).ListTopics(context.Background(), topic)
	if err != nil || td[topic].Err != nil {
		t.Fatalf("topic %s on europe: %v %v", topic, err, td[topic].Err)
	}
	id := td[topic].ID // produce requests name topics by id from v13 on
	d, ok := e.target.(kafkatest.InProcess)
	if !ok {
		t.Skip("europe holds the mirror's writes through kfake's request hooks: dev clusters only")
	}
	europe := d.Dev()
	europe.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		europe.KeepControl()
		for _, pt := range req.(*kmsg.ProduceRequest).Topics {
			if pt.Topic == topic || pt.TopicID == id {
				europe.SleepControl(func() { <-release })
				break
			}
		}
		return nil, nil, false
	})
}

// waitForecast waits until the agent's forecast of a failover to europe
// has records at risk as ok wants them.
func waitForecast(t *testing.T, e *accEnv, ok func(atRisk int64) bool) {
	t.Helper()
	kafkatest.Eventually(t, 60*time.Second, "the agent's forecast", func() (bool, string) {
		fc, err := e.client.Forecast(context.Background(), "loosehanger", "europe")
		return err == nil && ok(fc.Report.RecordsLost), fmt.Sprintf("%d records at risk, %v", fc.Report.RecordsLost, err)
	})
}
