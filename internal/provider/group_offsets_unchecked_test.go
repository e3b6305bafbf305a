package provider

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccGroupOffsetsOfAGroupNotCheckpointedYetAreData creates a mirror and
// reads, in the same apply, the offsets of a group it has not checkpointed
// (the first apply, as after a mirror update or a failover): the plan and
// the apply succeed and say checkpointed = false with no partitions. A
// mirror that does not exist is still an error.
func TestAccGroupOffsetsOfAGroupNotCheckpointedYetAreData(t *testing.T) {
	e := startEnv(t)
	offsets := "data.kafka_consumer_group_offsets.nobody"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: policyConfig(e, `  fencing = "none"`, `
data "kafka_consumer_group_offsets" "nobody" {
  mirror = kafka_mirror.na_to_eu.name
  group  = "consumer-nobody"
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(offsets, tfjsonpath.New("checkpointed"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(offsets, tfjsonpath.New("partitions"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue(offsets, tfjsonpath.New("records_not_mirrored"), knownvalue.Int64Exact(0)),
				},
			},
			{
				Config: policyConfig(e, `  fencing = "none"`, `
data "kafka_consumer_group_offsets" "nowhere" {
  mirror = "no-such-mirror"
  group  = "consumer-nobody"
}
`),
				ExpectError: regexp.MustCompile(`no mirror named "no-such-mirror"`),
			},
		},
	})
}
