package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agent"
	"github.com/kafka-failover/kafka-failover/internal/agentapi"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
)

const usage = `usage:
  kafka-failover-agent run --listen ADDR --state-bootstrap HOST:PORT[,HOST:PORT] --token-file FILE [--secret-key-file FILE] [--tls-cert-file F --tls-key-file F] [--request-timeout D]
      [--state-sasl-mechanism M --state-sasl-username U --state-sasl-password-file F]
      [--state-tls] [--state-tls-ca-file F] [--state-tls-cert-file F --state-tls-key-file F] [--state-tls-insecure-skip-verify]
  kafka-failover-agent dev-cluster --name NAME --listen 127.0.0.1:PORT [--brokers N] [--data-dir DIR]
  kafka-failover-agent version

Every flag of run can also come from the environment: KFO_LISTEN, KFO_STATE_BOOTSTRAP,
KFO_TOKEN_FILE, KFO_SECRET_KEY_FILE, KFO_TLS_CERT_FILE, KFO_TLS_KEY_FILE, KFO_SESSION_TIMEOUT, KFO_REQUEST_TIMEOUT,
KFO_AGENT_ID, KFO_STATE_SASL_MECHANISM, KFO_STATE_SASL_USERNAME, KFO_STATE_SASL_PASSWORD_FILE,
KFO_STATE_TLS, KFO_STATE_TLS_CA_FILE, KFO_STATE_TLS_CERT_FILE, KFO_STATE_TLS_KEY_FILE,
KFO_STATE_TLS_INSECURE_SKIP_VERIFY. Secrets come from files only.
GOMEMLIMIT, when set, replaces run's soft memory limit (96 MiB, or 1.5 times the live heap when more).`

// run is the whole program, so tests can call it with their own arguments,
// environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("no command given\n" + usage)
	}
	switch args[0] {
	case "run":
		return runAgent(ctx, args[1:], getenv, stdout)
	case "dev-cluster":
		return runDevCluster(ctx, args[1:], stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "kafka-failover-agent", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
}

func runDevCluster(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dev-cluster", flag.ContinueOnError)
	var cfg devcluster.Config
	fs.StringVar(&cfg.Name, "name", "", "cluster name, e.g. north-america")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:9092", "host:port of the first broker")
	fs.IntVar(&cfg.Brokers, "brokers", 1, "number of brokers; they take consecutive ports")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory that keeps the cluster's data across restarts (memory only when empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := devcluster.Start(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(stdout, "dev-cluster %s: bootstrap %s\n", cfg.Name, c.BootstrapString())
	<-ctx.Done()
	fmt.Fprintf(stdout, "dev-cluster %s: stopping\n", cfg.Name)
	return nil
}

type agentFlags struct {
	listen, stateBootstrap, tokenFile, secretKeyFile, tlsCert, tlsKey string
	agentID                                                           string
	sessionTimeout, requestTimeout                                    time.Duration
	state                                                             stateFlags
}

// stateFlags connect to the state cluster the way a declared cluster's
// sasl and tls settings do.
type stateFlags struct {
	saslMechanism, saslUsername, saslPasswordFile string
	tls, tlsInsecure                              bool
	tlsCAFile, tlsCertFile, tlsKeyFile            string
}

func parseAgentFlags(args []string, getenv func(string) string) (agentFlags, error) {
	var f agentFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&f.listen, "listen", env("KFO_LISTEN", "127.0.0.1:8080"), "address of the HTTP API")
	fs.StringVar(&f.stateBootstrap, "state-bootstrap", env("KFO_STATE_BOOTSTRAP", ""), "bootstrap servers of the state cluster (the standby the agent runs beside)")
	fs.StringVar(&f.tokenFile, "token-file", env("KFO_TOKEN_FILE", ""), "file holding the API bearer token")
	fs.StringVar(&f.secretKeyFile, "secret-key-file", env("KFO_SECRET_KEY_FILE", ""), "file holding the key that encrypts stored passwords and TLS keys")
	fs.StringVar(&f.tlsCert, "tls-cert-file", env("KFO_TLS_CERT_FILE", ""), "serve the API over TLS with this certificate")
	fs.StringVar(&f.tlsKey, "tls-key-file", env("KFO_TLS_KEY_FILE", ""), "the key of --tls-cert-file")
	fs.StringVar(&f.agentID, "agent-id", env("KFO_AGENT_ID", ""), "names this replica in status answers (default: hostname/listen address)")
	session, err := time.ParseDuration(env("KFO_SESSION_TIMEOUT", "10s"))
	if err != nil {
		return f, fmt.Errorf("KFO_SESSION_TIMEOUT: %w", err)
	}
	request, err := time.ParseDuration(env("KFO_REQUEST_TIMEOUT", agent.DefaultRequestTimeout.String()))
	if err != nil {
		return f, fmt.Errorf("KFO_REQUEST_TIMEOUT: %w", err)
	}
	st := &f.state
	fs.StringVar(&st.saslMechanism, "state-sasl-mechanism", env("KFO_STATE_SASL_MECHANISM", ""), "SASL mechanism towards the state cluster: "+strings.Join(agentapi.SASLMechanisms, ", "))
	fs.StringVar(&st.saslUsername, "state-sasl-username", env("KFO_STATE_SASL_USERNAME", ""), "SASL user towards the state cluster")
	fs.StringVar(&st.saslPasswordFile, "state-sasl-password-file", env("KFO_STATE_SASL_PASSWORD_FILE", ""), "file holding the SASL password towards the state cluster")
	for _, b := range []struct {
		v          *bool
		name, envv string
		usage      string
	}{
		{&st.tls, "state-tls", "KFO_STATE_TLS", "connect to the state cluster with TLS (implied by the other --state-tls flags)"},
		{&st.tlsInsecure, "state-tls-insecure-skip-verify", "KFO_STATE_TLS_INSECURE_SKIP_VERIFY", "do not verify the state cluster's certificate"},
	} {
		def, err := strconv.ParseBool(env(b.envv, "false"))
		if err != nil {
			return f, fmt.Errorf("%s: %q is not true or false", b.envv, getenv(b.envv))
		}
		fs.BoolVar(b.v, b.name, def, b.usage)
	}
	fs.StringVar(&st.tlsCAFile, "state-tls-ca-file", env("KFO_STATE_TLS_CA_FILE", ""), "PEM file of the CA that signed the state cluster's brokers (default: the system's)")
	fs.StringVar(&st.tlsCertFile, "state-tls-cert-file", env("KFO_STATE_TLS_CERT_FILE", ""), "PEM client certificate towards the state cluster")
	fs.StringVar(&st.tlsKeyFile, "state-tls-key-file", env("KFO_STATE_TLS_KEY_FILE", ""), "PEM key of --state-tls-cert-file")
	fs.DurationVar(&f.sessionTimeout, "session-timeout", session, "how long a silent agent keeps its mirror tasks before the others take them")
	fs.DurationVar(&f.requestTimeout, "request-timeout", request, "how long an API request other than a failover or a reverse may take, its state-topic writes included")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	switch {
	case f.requestTimeout < time.Second || f.requestTimeout > 10*time.Minute:
		return f, fmt.Errorf("--request-timeout %s is out of range: use 1s to 10m", f.requestTimeout)
	case f.stateBootstrap == "":
		return f, errors.New("--state-bootstrap (or KFO_STATE_BOOTSTRAP) is required: the bootstrap servers of the cluster the agent runs beside")
	case f.tokenFile == "":
		return f, errors.New("--token-file (or KFO_TOKEN_FILE) is required: a file holding the bearer token the API demands")
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return f, errors.New("--tls-cert-file and --tls-key-file go together")
	case st.saslMechanism != "" && !slices.Contains(agentapi.SASLMechanisms, st.saslMechanism):
		return f, fmt.Errorf("--state-sasl-mechanism %q is not supported: use one of %s", st.saslMechanism, strings.Join(agentapi.SASLMechanisms, ", "))
	case st.saslMechanism != "" && (st.saslUsername == "" || st.saslPasswordFile == ""):
		return f, errors.New("--state-sasl-mechanism needs --state-sasl-username and --state-sasl-password-file (or KFO_STATE_SASL_USERNAME and KFO_STATE_SASL_PASSWORD_FILE)")
	case st.saslMechanism == "" && (st.saslUsername != "" || st.saslPasswordFile != ""):
		return f, errors.New("--state-sasl-username and --state-sasl-password-file need --state-sasl-mechanism (or KFO_STATE_SASL_MECHANISM)")
	case (st.tlsCertFile == "") != (st.tlsKeyFile == ""):
		return f, errors.New("--state-tls-cert-file and --state-tls-key-file go together")
	}
	st.tls = st.tls || st.tlsInsecure || st.tlsCAFile != "" || st.tlsCertFile != ""
	return f, nil
}

// conn reads the state cluster's secrets from their files.
func (st stateFlags) conn(bootstrap string) (kafkaconn.Conn, error) {
	c := kafkaconn.Conn{Name: "state", BootstrapServers: strings.Split(bootstrap, ","),
		SASLMechanism: st.saslMechanism, SASLUsername: st.saslUsername, TLS: st.tls, InsecureTLS: st.tlsInsecure}
	for _, file := range []struct {
		flag, path string
		into       *string
	}{
		{"--state-sasl-password-file", st.saslPasswordFile, &c.SASLPassword},
		{"--state-tls-ca-file", st.tlsCAFile, &c.CAPEM},
		{"--state-tls-cert-file", st.tlsCertFile, &c.CertPEM},
		{"--state-tls-key-file", st.tlsKeyFile, &c.KeyPEM},
	} {
		if file.path == "" {
			continue
		}
		raw, err := os.ReadFile(file.path)
		if err != nil {
			return c, fmt.Errorf("read %s: %w", file.flag, err)
		}
		*file.into = string(raw)
	}
	// A password file ends in a newline more often than a password does.
	c.SASLPassword = strings.TrimRight(c.SASLPassword, "\r\n")
	if st.saslPasswordFile != "" && c.SASLPassword == "" {
		return c, errors.New("--state-sasl-password-file is empty")
	}
	// Bad PEM files fail here, at start, not at the first connection.
	if _, err := kafkaconn.Opts(c); err != nil {
		return c, fmt.Errorf("--state-tls-* files: %w", err)
	}
	return c, nil
}

func runAgent(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	f, err := parseAgentFlags(args, getenv)
	if err != nil {
		return err
	}
	token, err := os.ReadFile(f.tokenFile)
	if err != nil {
		return fmt.Errorf("read --token-file: %w", err)
	}
	state, err := f.state.conn(f.stateBootstrap)
	if err != nil {
		return err
	}
	holdMemory(ctx, getenv)
	return agent.Run(ctx, agent.Config{
		Listen:         f.listen,
		State:          state,
		Token:          strings.TrimSpace(string(token)),
		SecretKeyFile:  f.secretKeyFile,
		TLSCertFile:    f.tlsCert,
		TLSKeyFile:     f.tlsKey,
		AgentID:        f.agentID,
		Version:        version,
		SessionTimeout: f.sessionTimeout,
		RequestTimeout: f.requestTimeout,
		FailoverStep:   failoverStep,
		MirrorHooks:    mirrorHooks,
	}, stdout)
}

// failoverStep is nil in the agent binary; the test binary, which doubles
// as the agent, sets it to stop an agent in the middle of a failover.
var failoverStep func(policy, step string)

// mirrorHooks are zero in the agent binary; the test binary sets them to
// take snapshots often and to stop an agent in the middle of one.
var mirrorHooks mirror.Hooks
