package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// TestAccFailoverStatusWithDependsOnIsFreshAfterTheFailover applies a
// failover with a kafka_failover_status that depends_on the kafka_failover,
// as its documentation says: the data source is read after the failover, so
// the same apply shows the new active cluster and epoch.
func TestAccFailoverStatusWithDependsOnIsFreshAfterTheFailover(t *testing.T) {
	e := startEnv(t)
	config := func(active string) string {
		return failoverConfig(e, active, "planned") + `
data "kafka_failover_status" "lh" {
  policy     = kafka_failover_policy.lh.name
  depends_on = [kafka_failover.lh]
}
`
	}
	status := "data.kafka_failover_status.lh"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: config("north-america"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(status, tfjsonpath.New("active_cluster"), knownvalue.StringExact("north-america")),
				},
			},
			{
				Config: config("europe"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(status, tfjsonpath.New("active_cluster"), knownvalue.StringExact("europe")),
					statecheck.ExpectKnownValue(status, tfjsonpath.New("epoch"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(status, tfjsonpath.New("last_failover").AtMapKey("to"), knownvalue.StringExact("europe")),
				},
			},
		},
	})
}
