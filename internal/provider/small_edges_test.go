package provider

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// TestAccSmallEdgesAreRefusedAtPlanTimeInPlainWords: a SASL block without a
// password says which attributes to set, an invalid regular expression names
// the list element it is in, and a negative timeout is refused.
func TestAccSmallEdgesAreRefusedAtPlanTimeInPlainWords(t *testing.T) {
	skipUnlessAcc(t)
	provider := "provider \"kafka\" {\n  agent_url = \"http://127.0.0.1:1\"\n  token = \"unused-token-0123456789\"\n}\n"
	cases := []struct{ config, want string }{
		{provider + "resource \"kafka_cluster\" \"c\" {\n  name = \"c\"\n  bootstrap_servers = [\"k:9092\"]\n  sasl = { mechanism = \"PLAIN\", username = \"u\" }\n}\n",
			regexp.QuoteMeta(`sasl needs the user's password: set sasl.password_wo (write-only, Terraform 1.11 and later) with sasl.password_wo_version, or sasl.password`)},
		{provider + "resource \"kafka_cluster\" \"c\" {\n  name = \"c\"\n  bootstrap_servers = [\"k:9092\"]\n  sasl = { mechanism = \"PLAIN\", username = \"u\", password = \"p\", password_wo = \"p\" }\n}\n",
			`set only one of sasl.password_wo and sasl.password`},
		{provider + "resource \"kafka_mirror\" \"m\" {\n  name = \"m\"\n  source = \"a\"\n  target = \"b\"\n  topics = { include = [\"LH\\\\..*\", \"LH(\"] }\n}\n",
			`topics.include\[1\] "LH\(" is not a valid regular expression`},
		{provider + "resource \"kafka_failover\" \"f\" {\n  policy = \"p\"\n  active_cluster = \"a\"\n  timeouts {\n    update = \"-5m\"\n  }\n}\n",
			`(?s)with kafka_failover.f,.*timeouts.update is "-5m": give a positive duration such as "10m"`},
		{provider + "resource \"kafka_failover_reconciliation\" \"r\" {\n  policy = \"p\"\n  cluster = \"a\"\n  timeouts {\n    create = \"0s\"\n  }\n}\n",
			`timeouts.create is "0s": give a positive duration such as "10m"`},
	}
	steps := make([]resource.TestStep, len(cases))
	for i, c := range cases {
		// Terraform wraps diagnostics at 78 columns: any space may be a line break.
		steps[i] = resource.TestStep{Config: c.config, PlanOnly: true, ExpectError: regexp.MustCompile(strings.ReplaceAll(c.want, " ", `\s+`))}
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testProviders, Steps: steps})
}

// TestAccRetryMaxZeroAndEnvironmentVariables: retry_max = 0 sends a request
// once, KAFKA_FAILOVER_RETRY_MAX does the same without the attribute, and a
// bad KAFKA_FAILOVER_REQUEST_TIMEOUT or KAFKA_FAILOVER_CA_PEM is refused
// naming the variable.
func TestAccRetryMaxZeroAndEnvironmentVariables(t *testing.T) {
	skipUnlessAcc(t)
	var requests atomic.Int64
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		http.Error(w, `{"error":{"code":"unavailable","message":"down for the test"}}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(agent.Close)
	status := "data \"kafka_failover_status\" \"s\" {\n  policy = \"p\"\n}\n"
	providerWith := func(attrs string) string {
		return "provider \"kafka\" {\n  agent_url = \"" + agent.URL + "\"\n  token = \"unused-token-0123456789\"\n" + attrs + "}\n" + status
	}
	// planOnce plans config, which fails on the agent's 503, and answers
	// how many requests the agent got.
	planOnce := func(config, want string) int64 {
		requests.Store(0)
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testProviders,
			Steps:                    []resource.TestStep{{Config: config, PlanOnly: true, ExpectError: regexp.MustCompile(strings.ReplaceAll(want, " ", `\s+`))}},
		})
		return requests.Load()
	}
	const failed = `(?s)Agent Request Failed.*down for the test`
	t.Setenv(EnvRetryMax, "")
	if n := planOnce(providerWith("  retry_max = 0\n"), failed); n != 1 {
		t.Errorf("with retry_max = 0 the agent got %d requests, want 1", n)
	}
	t.Setenv(EnvRetryMax, "0")
	if n := planOnce(providerWith(""), failed); n != 1 {
		t.Errorf("with %s=0 the agent got %d requests, want 1", EnvRetryMax, n)
	}
	t.Setenv(EnvRequestTimeout, "soon")
	planOnce(providerWith(""), `(?s)`+EnvRequestTimeout+`.*"soon" is not a duration`)
	t.Setenv(EnvRequestTimeout, "")
	t.Setenv(EnvCAPEM, "agent-ca.crt")
	planOnce(providerWith(""), `(?s)`+EnvCAPEM+`.*no PEM certificate`)
}
