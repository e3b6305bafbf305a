package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// The agent keeps a stored secret only for the connection it was given for:
// a PUT that moves a cluster must send its password and client key again.
// The provider sends the write-only password from the configuration, and
// the key from state, on every update, so moving a cluster in Terraform
// applies without raising password_wo_version.
func TestAccClusterMovedToOtherBootstrapServersSendsItsSecretsAgain(t *testing.T) {
	e := startEnv(t)
	name := "kafka_cluster.na"
	pki := newTestPKI(t)
	mutualTLS := fmt.Sprintf("tls = {\n    ca_pem   = %q\n    cert_pem = %q\n    key_pem  = %q\n  }", pki.caPEM, pki.certPEM, pki.keyPEM)
	step := func(servers string, action plancheck.ResourceActionType) resource.TestStep {
		return resource.TestStep{
			Config: clusterConfig(e, servers, woSASL(1), mutualTLS),
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, action)},
				PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
			},
			Check: resource.ComposeTestCheckFunc(noValueInState(woPassword), agentHasPassword(e, "north-america"), agentHasKey(e, "north-america")),
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		Steps: []resource.TestStep{
			step(`["na-kafka-1:9093"]`, plancheck.ResourceActionCreate),
			step(`["na-kafka-2:9093"]`, plancheck.ResourceActionUpdate),
		},
	})
}
