package provider

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafka-failover/kafka-failover/internal/recordformat/fixture"
)

// stateFixture is a terraform.tfstate of the reference configuration
// (renameConfig: kafka_cluster, kafka_mirror, kafka_failover_policy,
// kafka_failover) as Terraform 1.11 wrote it with each resource's schema
// at Version 0. What depends on the run (addresses, certificates) is a
// placeholder that runValues fills in.
const stateFixture = "testdata/state-v0.tfstate"

// runValues maps each placeholder of stateFixture to this run's value.
func runValues(e *accEnv) map[string]string {
	out := map[string]string{}
	for name, c := range map[string]interface {
		Bootstrap() []string
	}{"SOURCE": e.source, "TARGET": e.target} {
		for i, addr := range c.Bootstrap() {
			out["@"+name+"_BOOTSTRAP_"+string(rune('0'+i))+"@"] = addr
		}
	}
	for name, d := range map[string]struct{ ca, cert, user string }{
		"SOURCE": {e.source.Declared().TLS.CAPEM, e.source.Declared().TLS.CertPEM, e.source.Declared().SASL.Username},
		"TARGET": {e.target.Declared().TLS.CAPEM, e.target.Declared().TLS.CertPEM, e.target.Declared().SASL.Username},
	} {
		out["@"+name+"_CA_PEM@"], out["@"+name+"_CERT_PEM@"], out["@"+name+"_USER@"] = d.ca, d.cert, d.user
	}
	return out
}

// jsonText is s as it stands inside a JSON string.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// TestAccWriteStateFixture applies the reference configuration and writes
// its state as stateFixture, with KFO_WRITE_FIXTURES=1: run it once, with
// the schema the fixture stands for.
func TestAccWriteStateFixture(t *testing.T) {
	fixture.SkipUnlessWriting(t)
	e := startEnv(t)
	if !e.writeOnly {
		t.Skip("the fixture is written by a CLI that takes write-only attributes")
	}
	cli := newTerraformCLI(t)
	cli.write(renameConfig(e, "north-america"))
	cli.run("apply", "-input=false", "-auto-approve")
	state, err := os.ReadFile(filepath.Join(cli.dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(state)
	for placeholder, v := range runValues(e) {
		text = strings.ReplaceAll(text, jsonText(v), placeholder)
	}
	if err := os.WriteFile(stateFixture, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAccStateOfSchemaVersion0PlansEmpty gives the terraform binary, over
// resources that exist on the agent, the state the schemas of Version 0
// wrote: Terraform upgrades it through the provider (UpgradeResourceState,
// with a StateUpgrader from 0 once a schema's Version is above 0),
// refreshes it, and plans no change. A schema change that forgets its
// upgrader, or one whose upgrader loses an attribute, fails here.
func TestAccStateOfSchemaVersion0PlansEmpty(t *testing.T) {
	e := startEnv(t)
	if !e.writeOnly {
		t.Skip("the fixture gives secrets as write-only attributes, which this CLI does not take")
	}
	fixed, err := os.ReadFile(stateFixture)
	if err != nil {
		t.Fatal(err)
	}
	cli := newTerraformCLI(t)
	cli.write(renameConfig(e, "north-america"))
	cli.run("apply", "-input=false", "-auto-approve") // the objects the state names
	text := string(fixed)
	for placeholder, v := range runValues(e) {
		text = strings.ReplaceAll(text, placeholder, jsonText(v))
	}
	if strings.Contains(text, "\"@") {
		t.Fatalf("%s has a placeholder runValues does not fill", stateFixture)
	}
	if err := os.WriteFile(filepath.Join(cli.dir, "terraform.tfstate"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := cli.try("plan", "-input=false", "-detailed-exitcode")
	if err != nil {
		t.Fatalf("plan over the state of schema Version 0: %v (exit 2: changes planned)\n%s", err, out)
	}
	if !strings.Contains(out, "No changes.") {
		t.Fatalf("plan over the state of schema Version 0 is not empty:\n%s", out)
	}
}
