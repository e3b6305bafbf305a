package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

const statusData = `
data "kafka_failover_status" "lh" {
  policy = kafka_failover_policy.lh.name
}
`

const offsetsData = `
data "kafka_consumer_group_offsets" "sa" {
  mirror = kafka_mirror.na_to_eu.name
  group  = "consumer-southamerica"
}
`

// TestAccFailoverStatusAndGroupOffsetsDataSources reads a policy's status
// (active cluster, bootstrap servers, epoch, standby readiness) and a
// group's translated offsets from a real agent mirroring real clusters.
func TestAccFailoverStatusAndGroupOffsetsDataSources(t *testing.T) {
	e := startEnv(t)
	const topic, partitions, perPartition, group = "LH.orders", 3, 20, "consumer-southamerica"
	kafkatest.CreateTopic(t, e.source.Bootstrap(), topic, partitions, nil, e.sourceOpts()...)
	kafkatest.NewProducer(t, e.source.Bootstrap(), e.sourceOpts()...).Produce(t, topic, partitions, perPartition)
	commitGroup(t, e.source, group, topic, partitions, 10)

	status, offsets := "data.kafka_failover_status.lh", "data.kafka_consumer_group_offsets.sa"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: policyConfig(e, `  fencing = "none"`, statusData),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(status, tfjsonpath.New("active_cluster"), knownvalue.StringExact("north-america")),
					statecheck.ExpectKnownValue(status, tfjsonpath.New("epoch"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(status, tfjsonpath.New("active_bootstrap_servers"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(e.source.Bootstrap()[0])})),
					statecheck.ExpectKnownValue(status, tfjsonpath.New("diverged"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue(status, tfjsonpath.New("standbys"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectPartial(map[string]knownvalue.Check{"cluster": knownvalue.StringExact("europe")}),
					})),
				},
				Check: resource.ComposeTestCheckFunc(
					recordsMirrored(t, e, topic, partitions*perPartition),
					groupCheckpointed(e, group, partitions),
				),
			},
			{
				Config: policyConfig(e, `  fencing = "none"`, statusData+offsetsData),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					// Mirrored and caught up: europe is ready.
					statecheck.ExpectKnownValue(status, tfjsonpath.New("standbys"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"cluster": knownvalue.StringExact("europe"), "ready": knownvalue.Bool(true),
							"lag_records": knownvalue.Int64Exact(0), "lag_seconds": knownvalue.Int64Exact(0), "reason": knownvalue.StringExact(""),
						}),
					})),
					statecheck.ExpectKnownValue(offsets, tfjsonpath.New("checkpointed"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(offsets, tfjsonpath.New("records_not_mirrored"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(offsets, tfjsonpath.New("partitions"), knownvalue.ListSizeExact(partitions)),
					statecheck.ExpectKnownValue(offsets, tfjsonpath.New("partitions").AtSliceIndex(0), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"topic":                knownvalue.StringExact(topic),
						"target_topic":         knownvalue.StringExact(topic),
						"source_offset":        knownvalue.Int64Exact(10),
						"target_offset":        knownvalue.Int64Exact(10),
						"records_not_mirrored": knownvalue.Int64Exact(0),
					})),
				},
			},
		},
	})
}
