package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// TestAccClusterClientKeyWriteOnlyStaysOutOfState gives the TLS client key
// with key_pem_wo: the agent holds it after the create, after an update that
// moves the cluster (the key is sent again from the configuration) and after
// raising key_pem_wo_version, and the state never holds it.
func TestAccClusterClientKeyWriteOnlyStaysOutOfState(t *testing.T) {
	e := startEnv(t)
	name := "kafka_cluster.na"
	pki := newTestPKI(t)
	step := func(servers string, version int, action plancheck.ResourceActionType) resource.TestStep {
		tls := fmt.Sprintf("tls = {\n    ca_pem   = %q\n    cert_pem = %q\n    key_pem_wo = %q\n    key_pem_wo_version = %d\n  }", pki.caPEM, pki.certPEM, pki.keyPEM, version)
		return resource.TestStep{
			Config: clusterConfig(e, servers, woSASL(1), tls),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, action)},
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("key_pem"), knownvalue.Null()),
				statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("key_pem_wo"), knownvalue.Null()),
				statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("key_pem_wo_version"), knownvalue.Int64Exact(int64(version))),
			},
			Check: resource.ComposeTestCheckFunc(noValueInState(pki.keyPEM), agentHasKey(e, "north-america")),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		Steps: []resource.TestStep{
			step(`["na-kafka-1:9093"]`, 1, plancheck.ResourceActionCreate),
			step(`["na-kafka-2:9093"]`, 1, plancheck.ResourceActionUpdate),
			step(`["na-kafka-2:9093"]`, 2, plancheck.ResourceActionUpdate),
		},
	})
}
