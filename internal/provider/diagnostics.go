package provider

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/kafka-failover/kafka-failover/internal/agentclient"
)

// agentDiag turns an agent error into a diagnostic. A 4xx naming a field is
// attached to the attribute the field maps to; rename maps agent field paths
// to schema paths where they differ (e.g. "sasl.password" written with
// password_wo); a field outside attrs gets a diagnostic without a path.
func agentDiag(diags *diag.Diagnostics, what string, err error, attrs map[string]bool, rename map[string]string) {
	var e *agentclient.Error
	if !errors.As(err, &e) {
		diags.AddError("Agent Unreachable",
			fmt.Sprintf("Could not %s. Check that the agent is running and that agent_url points at it, then apply again. Error: %v", what, err))
		return
	}
	msg := terraformTerms(e.Detail.Message)
	switch {
	case e.StatusCode == http.StatusUnauthorized:
		diags.AddError("Agent Refused The Token",
			"Set the provider's token (or "+EnvToken+") to the content of the agent's token file. The agent said: "+msg)
	case e.StatusCode == http.StatusConflict:
		diags.AddError("Agent Refused The Change",
			fmt.Sprintf("Could not %s: resolve the conflict the agent describes and apply again. The agent said: %s", what, msg))
	case e.StatusCode >= 400 && e.StatusCode < 500 && e.Detail.Field != "":
		field := e.Detail.Field
		if r, ok := rename[field]; ok {
			field = r
		}
		detail := fmt.Sprintf("The agent refused %s: change this value and apply again. The agent said: %s", field, msg)
		if p, ok := fieldPath(field); ok && attrs[strings.Split(field, ".")[0]] {
			diags.AddAttributeError(p, "Invalid Attribute Value", detail)
		} else {
			diags.AddError("Invalid Attribute Value", detail)
		}
	case e.StatusCode >= 400 && e.StatusCode < 500:
		diags.AddError("Agent Refused The Request",
			fmt.Sprintf("Could not %s: change the configuration as the agent says and apply again. The agent said: %s", what, msg))
	default:
		diags.AddError("Agent Request Failed",
			fmt.Sprintf("Could not %s: the agent answered %d after retries. It is safe to apply again once the agent is healthy. The agent said: %s", what, e.StatusCode, msg))
	}
}

var fieldStep = regexp.MustCompile(`^([a-z_]+)((?:\[\d+\])*)$`)

// fieldPath maps an agent field path like "topics.include[1]" to
// path.Root("topics").AtName("include").AtListIndex(1).
func fieldPath(field string) (path.Path, bool) {
	var p path.Path
	for i, step := range strings.Split(field, ".") {
		m := fieldStep.FindStringSubmatch(step)
		if m == nil {
			return path.Path{}, false
		}
		if i == 0 {
			p = path.Root(m[1])
		} else {
			p = p.AtName(m[1])
		}
		for _, idx := range strings.FieldsFunc(m[2], func(r rune) bool { return r == '[' || r == ']' }) {
			n, err := strconv.Atoi(idx)
			if err != nil {
				return path.Path{}, false
			}
			p = p.AtListIndex(n)
		}
	}
	return p, true
}

// apiHints rewrite the agent's hints, written for users of its HTTP API, in
// the terms of a Terraform configuration, in this order.
var apiHints = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`create it with PUT /v1/clusters/(\S+) first`), declareHint(clusterKind, "$1")},
	{regexp.MustCompile(`create it with PUT /v1/mirrors/(\S+) first`), declareHint(mirrorKind, "$1")},
	{regexp.MustCompile(`POST /v1/policies/[^/\s]+/reverse to the agent with \{[^}]*\} \(in Terraform: (a kafka_failover_reconciliation of "[^"]+")\)`), `declare $1`},
	{regexp.MustCompile(`POST /v1/policies/([^/\s]+)/reverse with \{"cluster": "([^"]+)"[^}]*\}`), `the kafka_failover_reconciliation of cluster "$2" in policy "$1" (apply it again)`},
	{regexp.MustCompile(`POST /v1/policies/([^/\s]+)/reverse`), `a kafka_failover_reconciliation in policy "$1"`},
	{regexp.MustCompile(`POST /v1/policies/[^/\s]+/failover`), `active_cluster of its kafka_failover`},
	{regexp.MustCompile(`delete (the policy )?with \?forget_diverged=true`), `set forget_diverged_on_destroy = true on the kafka_failover_policy, apply, and destroy it`},
}

// terraformTerms is an agent's message as a Terraform user acts on it.
func terraformTerms(msg string) string {
	for _, h := range apiHints {
		msg = h.re.ReplaceAllString(msg, h.with)
	}
	return msg
}
