package provider

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"

	"github.com/kafka-failover/kafka-failover/internal/kafkatest"
	"github.com/kafka-failover/kafka-failover/internal/recordformat/fixture"
)

// A stateFixture is a terraform.tfstate as Terraform 1.11 wrote it with
// each resource's schema at Version 0. What depends on the run (addresses,
// certificates) is a placeholder that runValues fills in.
type stateFixture struct {
	file string
	// apply makes, through cli, the objects the state names, as the run
	// that wrote the fixture did: its last apply leaves the configuration
	// the state belongs to in cli's directory.
	apply func(t *testing.T, e *accEnv, cli *terraformCLI)
}

// referenceState is the reference configuration (renameConfig:
// kafka_cluster, kafka_mirror, kafka_failover_policy, kafka_failover).
var referenceState = stateFixture{"testdata/state-v0.tfstate", func(_ *testing.T, e *accEnv, cli *terraformCLI) {
	cli.write(renameConfig(e, "north-america"))
	cli.run("apply", "-input=false", "-auto-approve")
}}

// reconciliationState adds a kafka_failover_reconciliation to two clusters
// with a mirror each way (reconcileConfig): a forced failover to europe
// left north-america behind, north-america took records europe never got,
// and the reconciliation quarantined them.
var reconciliationState = stateFixture{"testdata/state-v0-reconciliation.tfstate", func(t *testing.T, e *accEnv, cli *terraformCLI) {
	const topic, partitions, perPartition = "LH.orders", 3, 20
	kafkatest.CreateTopic(t, e.source.Bootstrap(), topic, partitions, nil, e.sourceOpts()...)
	kafkatest.NewProducer(t, e.source.Bootstrap(), e.sourceOpts()...).Produce(t, topic, partitions, perPartition)
	cli.write(cliHeader + reconcileConfig(e, "north-america", "planned", ""))
	cli.run("apply", "-input=false", "-auto-approve")
	waitRecordsOn(t, e.target, topic, partitions*perPartition, 30*time.Second)
	cli.write(cliHeader + reconcileConfig(e, "europe", "forced", ""))
	cli.run("apply", "-input=false", "-auto-approve")
	writeDivergentTail(t, e, topic)
	cli.write(cliHeader + reconcileConfig(e, "europe", "forced", reconciliationBlock))
	cli.run("apply", "-input=false", "-auto-approve")
}}

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

// writeStateFixture applies f's configuration and writes its state as
// f.file, with KFO_WRITE_FIXTURES=1: run it once, with the schema the
// fixture stands for.
func writeStateFixture(t *testing.T, f stateFixture) {
	fixture.SkipUnlessWriting(t)
	e := startEnv(t)
	if !e.writeOnly {
		t.Skip("the fixture is written by a CLI that takes write-only attributes")
	}
	cli := newTerraformCLI(t)
	f.apply(t, e, cli)
	state, err := os.ReadFile(filepath.Join(cli.dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(state)
	for placeholder, v := range runValues(e) {
		text = strings.ReplaceAll(text, jsonText(v), placeholder)
	}
	if err := os.WriteFile(f.file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAccWriteStateFixture(t *testing.T) { writeStateFixture(t, referenceState) }

func TestAccWriteReconciliationStateFixture(t *testing.T) {
	writeStateFixture(t, reconciliationState)
}

// plansEmptyOver gives the terraform binary, over resources that exist on
// the agent, the state f holds: Terraform upgrades it through the provider
// (UpgradeResourceState, with a StateUpgrader from 0 once a schema's
// Version is above 0), refreshes it, and plans no change. A schema change
// that forgets its upgrader, or one whose upgrader loses an attribute,
// fails here.
func plansEmptyOver(t *testing.T, f stateFixture) {
	e := startEnv(t)
	if !e.writeOnly {
		t.Skip("the fixture gives secrets as write-only attributes, which this CLI does not take")
	}
	fixed, err := os.ReadFile(f.file)
	if err != nil {
		t.Fatal(err)
	}
	cli := newTerraformCLI(t)
	f.apply(t, e, cli) // the objects the state names
	text := string(fixed)
	for placeholder, v := range runValues(e) {
		text = strings.ReplaceAll(text, placeholder, jsonText(v))
	}
	if strings.Contains(text, "\"@") {
		t.Fatalf("%s has a placeholder runValues does not fill", f.file)
	}
	if err := os.WriteFile(filepath.Join(cli.dir, "terraform.tfstate"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := cli.try("plan", "-input=false", "-detailed-exitcode")
	if err != nil {
		t.Fatalf("plan over %s: %v (exit 2: changes planned)\n%s", f.file, err, out)
	}
	if !strings.Contains(out, "No changes.") {
		t.Fatalf("plan over %s is not empty:\n%s", f.file, out)
	}
}

// TestAccStateOfSchemaVersion0PlansEmpty: the reference configuration's
// state of schema Version 0 plans empty (plansEmptyOver).
func TestAccStateOfSchemaVersion0PlansEmpty(t *testing.T) { plansEmptyOver(t, referenceState) }

// TestAccReconciliationStateOfSchemaVersion0PlansEmpty: a
// kafka_failover_reconciliation's state of schema Version 0, after a
// forced failover and the reconciliation of the cluster it left behind,
// plans empty (plansEmptyOver).
func TestAccReconciliationStateOfSchemaVersion0PlansEmpty(t *testing.T) {
	plansEmptyOver(t, reconciliationState)
}

// Every attribute a committed state fixture holds is in its resource's
// schema of the same Version, or the schema's Version is above the
// fixture's and an UpgradeState takes the fixture's Version. The terraform
// binary's plan cannot see a computed attribute renamed or removed without
// an upgrader: the framework drops what the schema lacks and the refresh
// fills the new one in, so the value is lost where Read does not restore it.
func TestEveryAttributeOfAStateFixtureIsInItsSchemaOrUpgraded(t *testing.T) {
	ctx := context.Background()
	schemas := map[string]rschema.Schema{}
	upgrades := map[string]map[int64]resource.StateUpgrader{}
	p := New("test")()
	var meta provider.MetadataResponse
	p.Metadata(ctx, provider.MetadataRequest{}, &meta)
	for _, newResource := range p.Resources(ctx) {
		r := newResource()
		var m resource.MetadataResponse
		r.Metadata(ctx, resource.MetadataRequest{ProviderTypeName: meta.TypeName}, &m)
		var s resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &s)
		schemas[m.TypeName] = s.Schema
		if u, ok := r.(resource.ResourceWithUpgradeState); ok {
			upgrades[m.TypeName] = u.UpgradeState(ctx)
		}
	}
	for _, f := range []stateFixture{referenceState, reconciliationState} {
		raw, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		var state struct {
			Resources []struct {
				Type      string `json:"type"`
				Instances []struct {
					SchemaVersion int64                      `json:"schema_version"`
					Attributes    map[string]json.RawMessage `json:"attributes"`
				} `json:"instances"`
			} `json:"resources"`
		}
		if err := json.Unmarshal(raw, &state); err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		for _, r := range state.Resources {
			s, ok := schemas[r.Type]
			if !ok {
				t.Errorf("%s: resource type %s is no longer in the provider", f.file, r.Type)
				continue
			}
			for _, inst := range r.Instances {
				switch v := inst.SchemaVersion; {
				case v > s.Version:
					t.Errorf("%s: %s at schema Version %d, above the schema's %d", f.file, r.Type, v, s.Version)
				case v < s.Version:
					if _, ok := upgrades[r.Type][v]; !ok {
						t.Errorf("%s: %s is at schema Version %d and no StateUpgrader takes it to %d", f.file, r.Type, v, s.Version)
					}
				default:
					for name := range inst.Attributes {
						_, attr := s.Attributes[name]
						_, block := s.Blocks[name]
						if !attr && !block {
							t.Errorf("%s: %s's state holds %q, which its schema of Version %d lacks: raise the Version and add a StateUpgrader", f.file, r.Type, name, v)
						}
					}
				}
			}
		}
	}
}
