package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/kafka-failover/kafka-failover/internal/agentapi"
)

// stringCheck is a plan-time string validator from one function; check
// answers why a value is wrong, or "" when it is right.
type stringCheck struct {
	desc  string
	check func(string) string
	// named starts the message with the attribute's path: Terraform shows
	// the resource, not the line, for an attribute nested in an object.
	named bool
}

var _ validator.String = stringCheck{}

func (v stringCheck) Description(context.Context) string         { return v.desc }
func (v stringCheck) MarkdownDescription(context.Context) string { return v.desc }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if why := v.check(req.ConfigValue.ValueString()); why != "" {
		if v.named {
			why = req.Path.String() + " " + why
		}
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
		named: true, // the list element, as Terraform points at the resource only
		desc:  "must be a regular expression (RE2 syntax) matching whole names",
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

// int64Between accepts a whole number from min to max written as text: an
// environment variable that stands for a number attribute.
func int64Between(min, max int64) validator.String {
	return stringCheck{
		desc: fmt.Sprintf("must be a whole number from %d to %d", min, max),
		check: func(s string) string {
			if n, err := strconv.ParseInt(s, 10, 64); err != nil || n < min || n > max {
				return fmt.Sprintf("%q is not a whole number from %d to %d.", s, min, max)
			}
			return ""
		},
	}
}

// durationBetween accepts a Go duration from min to max, both included.
func durationBetween(min, max time.Duration) validator.String {
	return stringCheck{
		desc: fmt.Sprintf("must be a Go duration from %s to %s, such as \"1s\" or \"500ms\"", agentapi.ShortDuration(min), agentapi.ShortDuration(max)),
		check: func(s string) string {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Sprintf("%q is not a duration: write it like \"1s\" or \"500ms\" (Go duration syntax).", s)
			}
			if d < min || d > max {
				return fmt.Sprintf("%q is out of range: use %s to %s.", s, agentapi.ShortDuration(min), agentapi.ShortDuration(max))
			}
			return ""
		},
	}
}

// pemCertificates accepts PEM text whose first block is an X.509
// CERTIFICATE, as the agent requires; more certificates may follow (a CA
// bundle, a client chain). Text around the blocks is ignored, as Go's TLS
// does. A private key is refused: it would show in plans and state unmarked.
// The empty string means unset, as for the agent.
func pemCertificates(attr, what, file, keyHint string) validator.String {
	paste := fmt.Sprintf("paste %s itself, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE----- (from a file: %s = file(%q))", what, attr, file)
	return stringCheck{
		named: true,
		desc:  "must hold " + what + " in PEM form (-----BEGIN CERTIFICATE-----)",
		check: func(s string) string {
			if s == "" {
				return ""
			}
			rest, n := []byte(s), 0
			for {
				block, r := pem.Decode(rest)
				if block == nil {
					break
				}
				rest = r
				switch {
				case strings.HasSuffix(block.Type, "PRIVATE KEY"):
					return fmt.Sprintf("holds a private key (a %s block), which would show in plans and state unmarked: %s%s.", block.Type, paste, keyHint)
				case block.Type != "CERTIFICATE" && n == 0:
					return fmt.Sprintf("starts with a %s block, not a CERTIFICATE: %s.", block.Type, paste)
				case block.Type != "CERTIFICATE":
					continue
				}
				n++
				if _, err := x509.ParseCertificate(block.Bytes); err != nil {
					return fmt.Sprintf("holds a CERTIFICATE block (number %d) that is not a valid X.509 certificate (%v): %s.", n, err, paste)
				}
			}
			if n == 0 {
				return fmt.Sprintf("holds no PEM certificate: %s, not a file name or base64 text without its BEGIN and END lines.", paste)
			}
			return ""
		},
	}
}

// pemPrivateKey accepts PEM text holding a private key Go's TLS can use:
// PKCS #8 (PRIVATE KEY), PKCS #1 (RSA PRIVATE KEY) or SEC 1 (EC PRIVATE
// KEY), unencrypted. Its messages never quote the value, which is secret.
func pemPrivateKey(attr, file string) validator.String {
	paste := fmt.Sprintf("paste the private key of cert_pem, from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY----- (RSA PRIVATE KEY and EC PRIVATE KEY work too; from a file: %s = file(%q))", attr, file)
	return stringCheck{
		named: true,
		desc:  "must hold an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)",
		check: func(s string) string {
			if s == "" {
				return ""
			}
			rest, certificate := []byte(s), false
			for {
				block, r := pem.Decode(rest)
				if block == nil {
					break
				}
				rest = r
				switch {
				case block.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED"):
					return "holds an encrypted private key, which the agent cannot use: decrypt it first (openssl pkey -in client.key -out client-plain.key) and " + paste + "."
				case block.Type == "OPENSSH PRIVATE KEY":
					return "holds an OpenSSH key, not a TLS private key: " + paste + "."
				case strings.HasSuffix(block.Type, "PRIVATE KEY"):
					if !parsesAsPrivateKey(block.Bytes) {
						return fmt.Sprintf("holds a %s block that is not a valid RSA, ECDSA or Ed25519 private key: %s.", block.Type, paste)
					}
					return ""
				case block.Type == "CERTIFICATE":
					certificate = true
				}
			}
			if certificate {
				return "holds a certificate, not a private key: the certificate goes in cert_pem; " + paste + "."
			}
			return "holds no PEM private key: " + paste + "."
		},
	}
}

// parsesAsPrivateKey tries the key formats crypto/tls accepts, in its order.
func parsesAsPrivateKey(der []byte) bool {
	if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return true
	}
	if key, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		switch key.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return true
		}
		return false
	}
	_, err := x509.ParseECPrivateKey(der)
	return err == nil
}
