package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
)

const woPassword = "write-only-password-never-in-state"

// woSASL gives the password write-only, sensitiveSASL as a plain sensitive
// attribute.
func woSASL(version int) string {
	return fmt.Sprintf("password_wo = %q\n    password_wo_version = %d", woPassword, version)
}

const sensitivePassword = "sensitive-password-in-state"

func sensitiveSASL() string { return fmt.Sprintf("password = %q", sensitivePassword) }

func clusterConfig(e *accEnv, servers, password, extra string) string {
	return e.providerBlock() + fmt.Sprintf(`
resource "kafka_cluster" "na" {
  name              = "north-america"
  bootstrap_servers = %s
  sasl = {
    mechanism = "SCRAM-SHA-512"
    username  = "mirror"
    %s
  }
  %s
}
`, servers, password, extra)
}

// TestAccClusterCreateImportUpdateKeepsPasswordOutOfState creates a cluster
// whose SASL password is write-only, imports it, updates it, adds a client
// certificate whose key is write-only, imports it again, and shows the plan
// is empty after each apply and neither the password nor the key ever
// reaches the state although the agent holds both. Bad write-only keys are
// refused at plan time, naming key_pem_wo.
func TestAccClusterCreateImportUpdateKeepsPasswordOutOfState(t *testing.T) {
	e := startEnv(t)
	name := "kafka_cluster.na"
	pki := newTestPKI(t)
	woKey := func(key string) string {
		return fmt.Sprintf("tls = {\n    ca_pem   = %q\n    cert_pem = %q\n    %s\n  }", pki.caPEM, pki.certPEM, key)
	}
	keyLine := strings.Split(pki.keyPEM, "\n")[1] // a line of the key's base64
	planError := func(tls, want string) resource.TestStep {
		return resource.TestStep{Config: clusterConfig(e, `["na-kafka-1:9093"]`, woSASL(1), tls), PlanOnly: true,
			ExpectError: regexp.MustCompile(strings.ReplaceAll(want, " ", `\s+`))}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		// Write-only attributes came with Terraform 1.11; OpenTofu 1.10 and
		// Terraform before 1.11 refuse them (see the sensitive test below).
		TerraformVersionChecks: []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		Steps: []resource.TestStep{
			planError(woKey(fmt.Sprintf("key_pem_wo = %q", pki.certPEM)), `tls\.key_pem_wo holds a certificate, not a private key`),
			planError(woKey(fmt.Sprintf("key_pem = %q\n    key_pem_wo = %q", pki.keyPEM, pki.keyPEM)), `(?s)Attribute "tls\.key_pem_wo" cannot be specified when "tls\.key_pem" is specified`),
			planError(fmt.Sprintf("tls = { key_pem_wo = %q }", pki.keyPEM), `(?s)Attribute "tls\.cert_pem" must be specified when "tls\.key_pem_wo" is specified`),
			{
				Config: clusterConfig(e, `["na-kafka-1:9092"]`, woSASL(1), ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("bootstrap_servers"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("na-kafka-1:9092")})),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("sasl").AtMapKey("mechanism"), knownvalue.StringExact("SCRAM-SHA-512")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("sasl").AtMapKey("password_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("sasl").AtMapKey("password"), knownvalue.Null()),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("sasl").AtMapKey("password_wo_version"), knownvalue.Int64Exact(1)),
				},
				Check: resource.ComposeTestCheckFunc(noValueInState(woPassword), agentHasPassword(e, "north-america")),
			},
			{
				ResourceName:                         name,
				ImportState:                          true,
				ImportStateId:                        "north-america",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				// Write-only values and their trigger are not in the agent's answer.
				ImportStateVerifyIgnore: []string{"sasl.password_wo_version", "sasl.password_wo"},
			},
			{
				Config: clusterConfig(e, `["na-kafka-1:9092", "na-kafka-2:9092"]`, woSASL(2), `tls = { insecure_skip_verify = true }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("bootstrap_servers"), knownvalue.ListSizeExact(2)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("insecure_skip_verify"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("ca_pem"), knownvalue.Null()),
				},
				Check: resource.ComposeTestCheckFunc(noValueInState(woPassword), agentHasPassword(e, "north-america")),
			},
			{
				Config: clusterConfig(e, `["na-kafka-1:9093"]`, woSASL(2), woKey(fmt.Sprintf("key_pem_wo = %q\n    key_pem_wo_version = 1", pki.keyPEM))),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("cert_pem"), knownvalue.StringExact(pki.certPEM)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("key_pem_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("key_pem"), knownvalue.Null()),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("key_pem_wo_version"), knownvalue.Int64Exact(1)),
				},
				Check: resource.ComposeTestCheckFunc(noValueInState(woPassword), noValueInState(keyLine), agentHasPassword(e, "north-america"), agentHasKey(e, "north-america")),
			},
			{
				ResourceName:                         name,
				ImportState:                          true,
				ImportStateId:                        "north-america",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				ImportStateVerifyIgnore:              []string{"sasl.password_wo_version", "sasl.password_wo", "tls.key_pem_wo_version", "tls.key_pem_wo"},
			},
		},
	})
}

// TestAccClusterWithSensitivePasswordCreateImportUpdate is the same life
// cycle with the plain sensitive password, which every CLI supports: the
// password reaches the agent, and an update that keeps it sends it again.
// A last update adds a CA and a client certificate and key that pass the
// plan-time PEM checks; the agent stores the key and the plan stays empty.
func TestAccClusterWithSensitivePasswordCreateImportUpdate(t *testing.T) {
	e := startEnv(t)
	name := "kafka_cluster.na"
	pki := newTestPKI(t)
	mutualTLS := fmt.Sprintf("tls = {\n    ca_pem   = %q\n    cert_pem = %q\n    key_pem  = %q\n  }", pki.caPEM, pki.certPEM, pki.keyPEM)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviders,
		Steps: []resource.TestStep{
			{
				Config: clusterConfig(e, `["na-kafka-1:9092"]`, sensitiveSASL(), ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, plancheck.ResourceActionCreate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectSensitiveValue(name, tfjsonpath.New("sasl").AtMapKey("password")),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tls"), knownvalue.Null()),
				},
				Check: agentHasPassword(e, "north-america"),
			},
			{
				ResourceName:                         name,
				ImportState:                          true,
				ImportStateId:                        "north-america",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "name",
				// The agent never returns the password.
				ImportStateVerifyIgnore: []string{"sasl.password"},
			},
			{
				Config: clusterConfig(e, `["na-kafka-1:9092"]`, sensitiveSASL(), `tls = {}`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("insecure_skip_verify"), knownvalue.Bool(false)),
				},
				Check: agentHasPassword(e, "north-america"),
			},
			{
				Config: clusterConfig(e, `["na-kafka-1:9093"]`, sensitiveSASL(), mutualTLS),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(name, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("ca_pem"), knownvalue.StringExact(pki.caPEM)),
					statecheck.ExpectKnownValue(name, tfjsonpath.New("tls").AtMapKey("cert_pem"), knownvalue.StringExact(pki.certPEM)),
					statecheck.ExpectSensitiveValue(name, tfjsonpath.New("tls").AtMapKey("key_pem")),
				},
				Check: resource.ComposeTestCheckFunc(agentHasPassword(e, "north-america"), agentHasKey(e, "north-america")),
			},
		},
	})
}

// noValueInState fails when any attribute of any resource holds secret.
func noValueInState(secret string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for _, m := range s.Modules {
			for addr, r := range m.Resources {
				for k, v := range r.Primary.Attributes {
					if strings.Contains(v, secret) {
						return fmt.Errorf("%s.%s holds a write-only secret in state", addr, k)
					}
				}
			}
		}
		return nil
	}
}

// secretsNotInState checks that neither cluster's SASL password nor TLS
// client key, given write-only, is in any attribute of the state, sensitive
// ones included. A CLI without write-only attributes keeps them there,
// marked sensitive.
func secretsNotInState(e *accEnv) resource.TestCheckFunc {
	if !e.writeOnly {
		return func(*terraform.State) error { return nil }
	}
	var checks []resource.TestCheckFunc
	for _, c := range []kafkatest.Kafka{e.source, e.target} {
		d := c.Declared()
		// A line of the key's base64 is found however the PEM is quoted.
		checks = append(checks, noValueInState(d.SASL.Password), noValueInState(strings.Split(d.TLS.KeyPEM, "\n")[1]))
	}
	return resource.ComposeTestCheckFunc(checks...)
}

// agentHasPassword checks that the agent stored a password for the cluster.
func agentHasPassword(e *accEnv, cluster string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		c, err := e.client.GetCluster(context.Background(), cluster)
		if err != nil {
			return err
		}
		if c.SASL == nil || !c.SASL.PasswordSet {
			return fmt.Errorf("agent holds no password for cluster %s: %+v", cluster, c.SASL)
		}
		return nil
	}
}

// agentHasKey checks that the agent stored a TLS client key for the cluster.
func agentHasKey(e *accEnv, cluster string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		c, err := e.client.GetCluster(context.Background(), cluster)
		if err != nil {
			return err
		}
		if c.TLS == nil || !c.TLS.KeyPEMSet {
			return fmt.Errorf("agent holds no TLS key for cluster %s: %+v", cluster, c.TLS)
		}
		return nil
	}
}

// TestAccBadValuesAreRejectedAtPlanTime shows each bad value is refused by
// `terraform plan` with a message saying what is wrong, before the agent
// is asked anything (the provider points at a closed port).
func TestAccBadValuesAreRejectedAtPlanTime(t *testing.T) {
	skipUnlessAcc(t)
	provider := "provider \"kafka\" {\n  agent_url = \"http://127.0.0.1:1\"\n  token = \"unused-token-0123456789\"\n}\n"
	cluster := func(body string) string {
		return provider + "resource \"kafka_cluster\" \"c\" {\n  name = \"c\"\n" + body + "\n}\n"
	}
	mirror := func(body string) string {
		return provider + "resource \"kafka_mirror\" \"m\" {\n  name = \"m\"\n  source = \"a\"\n  target = \"b\"\n" + body + "\n}\n"
	}
	pki := newTestPKI(t)
	tls := func(attrs string) string {
		return cluster("bootstrap_servers = [\"k:9093\"]\ntls = {\n" + attrs + "\n}")
	}
	cases := []struct {
		config string
		want   string
	}{
		{cluster(`bootstrap_servers = []`), `Attribute bootstrap_servers list must contain at least 1 elements`},
		{cluster(`bootstrap_servers = ["kafka-1"]`), `"kafka-1" is not host:port with a port from 1 to 65535`},
		{cluster(`bootstrap_servers = ["kafka-1:0"]`), `"kafka-1:0" is not host:port`},
		{cluster("bootstrap_servers = [\"k:9092\"]\nsasl = { mechanism = \"GSSAPI\", username = \"u\", password = \"p\" }"), `value must be one of: \["PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512"\]`},
		{cluster("bootstrap_servers = [\"k:9092\"]\nsasl = { mechanism = \"PLAIN\", username = \"u\" }"), `sasl needs the user's password: set sasl.password_wo`},
		{mirror(`topics = { include = ["LH["] }`), `"LH\[" is not a valid regular expression: error parsing regexp: missing closing \]`},
		{mirror("topics = { include = [\"LH\\\\..*\"] }\ngroups = { exclude = [\"(\"] }"), `"\(" is not a valid regular expression`},
		{mirror("topics = { include = [\"t\"] }\nreplication_policy = \"mirror\""), `value must be one of: \["identity" "prefix"\]`},
		{mirror("topics = { include = [\"t\"] }\nstart_from = \"beginning\""), `value must be one of: \["earliest" "latest"\]`},
		{mirror("topics = { include = [\"t\"] }\nrefresh_interval = \"10 seconds\""), `"10 seconds" is not a duration`},
		{mirror("topics = { include = [\"t\"] }\nrefresh_interval = \"500ms\""), `"500ms" is out of range: use 1s to 1h.`},
		{mirror("topics = { include = [\"t\"] }\ntasks_max = 0"), `tasks_max value must be between 1 and 1024`},
		{mirror("topics = { include = [] }"), `list must contain at least 1 elements`},
		{provider + "resource \"kafka_mirror\" \"m\" {\n  name = \"bad name\"\n  source = \"a\"\n  target = \"b\"\n  topics = { include = [\"t\"] }\n}\n", `"bad name" is not a valid name`},
		{mirror("topics = { include = [\"t\"] }\ncheckpoint_interval = \"1 second\""), `(?s)checkpoint_interval.*"1 second" is not a duration: write it like "1s" or "500ms"`},
		{mirror("topics = { include = [\"t\"] }\ncheckpoint_interval = \"50ms\""), `(?s)checkpoint_interval.*"50ms" is out of range: use 100ms to 1h.`},
		{mirror("topics = { include = [\"t\"] }\ncheckpoint_interval = \"2h\""), `(?s)checkpoint_interval.*"2h" is out of range: use 100ms to 1h.`},
		// source and target the same: written out, and known only once the plan evaluates references.
		{provider + "resource \"kafka_mirror\" \"m\" {\n  name = \"m\"\n  source = \"europe\"\n  target = \"europe\"\n  topics = { include = [\"t\"] }\n}\n",
			`(?s)Mirror Target Is Its Source.*with kafka_mirror.m.*target = "europe".*source and target are both the cluster "europe": a mirror copies from one cluster to another. Set target to the name of the standby cluster`},
		{provider + "resource \"kafka_cluster\" \"eu\" {\n  name = \"europe\"\n  bootstrap_servers = [\"k:9092\"]\n}\n" +
			"resource \"kafka_mirror\" \"m\" {\n  name = \"m\"\n  source = kafka_cluster.eu.name\n  target = kafka_cluster.eu.name\n  topics = { include = [\"t\"] }\n}\n",
			`(?s)Mirror Target Is Its Source.*source and target are both the cluster "europe"`},
		{tls(`ca_pem = "na-ca.crt"`), `tls\.ca_pem holds no PEM certificate: paste the CA certificate itself, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE----- \(from a file: ca_pem = file\("ca.crt"\)\)`},
		{tls(fmt.Sprintf("ca_pem = %q", pki.keyPEM)), `tls\.ca_pem holds a private key \(a PRIVATE KEY block\), which would show in plans and state unmarked`},
		{tls(fmt.Sprintf("cert_pem = %q\nkey_pem = %q", pki.certPEM+pki.keyPEM, pki.keyPEM)), `(?s)tls\.cert_pem holds a private key.*the client key goes in key_pem, which is sensitive`},
		{tls(fmt.Sprintf("cert_pem = %q\nkey_pem = %q", pki.certPEM, pki.certPEM)), `tls\.key_pem holds a certificate, not a private key: the certificate goes in cert_pem; paste the private key of cert_pem, from -----BEGIN PRIVATE KEY-----`},
		{tls(fmt.Sprintf("cert_pem = %q\nkey_pem = \"client.key\"", pki.certPEM)), `tls\.key_pem holds no PEM private key: paste the private key of cert_pem`},
		{strings.Replace(cluster(`bootstrap_servers = ["k:9092"]`), "provider \"kafka\" {\n", "provider \"kafka\" {\n  ca_pem = \"agent-ca.crt\"\n", 1),
			`ca_pem holds no PEM certificate: paste the agent's CA certificate itself`},
	}
	steps := make([]resource.TestStep, len(cases))
	for i, c := range cases {
		// Terraform wraps diagnostics at 78 columns: any space may be a line break.
		want := strings.ReplaceAll(c.want, " ", `\s+`)
		steps[i] = resource.TestStep{Config: c.config, PlanOnly: true, ExpectError: regexp.MustCompile(want)}
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
}
