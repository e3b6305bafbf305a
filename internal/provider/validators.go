package provider

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// stringCheck is a plan-time string validator from one function; check
// answers why a value is wrong, or "" when it is right.
type stringCheck struct {
	desc  string
	check func(string) string
}

var _ validator.String = stringCheck{}

func (v stringCheck) Description(context.Context) string         { return v.desc }
func (v stringCheck) MarkdownDescription(context.Context) string { return v.desc }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if why := v.check(req.ConfigValue.ValueString()); why != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Attribute Value", why)
	}
}

// namePattern is the agent's rule for cluster and mirror names: they become
// parts of Kafka topic names and transactional ids.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

func validName() validator.String {
	return stringCheck{
		desc: "must start with a letter or digit and hold only letters, digits, '.', '_' and '-' (at most 100)",
		check: func(s string) string {
			if !namePattern.MatchString(s) {
				return fmt.Sprintf("%q is not a valid name: start with a letter or digit and use only letters, digits, '.', '_' and '-' (at most 100 characters).", s)
			}
			return ""
		},
	}
}

func hostPort() validator.String {
	return stringCheck{
		desc: "must be host:port with a port from 1 to 65535",
		check: func(s string) string {
			host, port, err := net.SplitHostPort(s)
			n, perr := strconv.ParseUint(port, 10, 16)
			if err != nil || host == "" || perr != nil || n == 0 {
				return fmt.Sprintf("%q is not host:port with a port from 1 to 65535: write a broker address such as kafka-1:9092.", s)
			}
			return ""
		},
	}
}

func validRegexp() validator.String {
	return stringCheck{
		desc: "must be a regular expression (RE2 syntax) matching whole names",
		check: func(s string) string {
			if _, err := regexp.Compile("^(?:" + s + ")$"); err != nil {
				return fmt.Sprintf("%q is not a valid regular expression: %v", s, err)
			}
			return ""
		},
	}
}

func durationAtLeast(min time.Duration) validator.String {
	return stringCheck{
		desc: fmt.Sprintf("must be a Go duration of at least %s, such as \"10s\" or \"1m\"", min),
		check: func(s string) string {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Sprintf("%q is not a duration: write it like \"10s\" or \"1m\" (Go duration syntax).", s)
			}
			if d < min {
				return fmt.Sprintf("%q is too short: use at least %s.", s, min)
			}
			return ""
		},
	}
}
