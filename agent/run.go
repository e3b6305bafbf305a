package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/agent"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
)

const usage = `usage:
  kafka-failover-agent run --listen ADDR --state-bootstrap HOST:PORT[,HOST:PORT] --token-file FILE [--secret-key-file FILE] [--tls-cert-file F --tls-key-file F]
  kafka-failover-agent dev-cluster --name NAME --listen 127.0.0.1:PORT [--brokers N] [--data-dir DIR]

Every flag of run can also come from the environment: KFO_LISTEN, KFO_STATE_BOOTSTRAP,
KFO_TOKEN_FILE, KFO_SECRET_KEY_FILE, KFO_TLS_CERT_FILE, KFO_TLS_KEY_FILE, KFO_SESSION_TIMEOUT,
KFO_AGENT_ID.`

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
	sessionTimeout                                                    time.Duration
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
	fs.DurationVar(&f.sessionTimeout, "session-timeout", session, "how long a silent agent keeps its mirror tasks before the others take them")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	switch {
	case f.stateBootstrap == "":
		return f, errors.New("--state-bootstrap (or KFO_STATE_BOOTSTRAP) is required: the bootstrap servers of the cluster the agent runs beside")
	case f.tokenFile == "":
		return f, errors.New("--token-file (or KFO_TOKEN_FILE) is required: a file holding the bearer token the API demands")
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return f, errors.New("--tls-cert-file and --tls-key-file go together")
	}
	return f, nil
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
	return agent.Run(ctx, agent.Config{
		Listen:         f.listen,
		StateBootstrap: strings.Split(f.stateBootstrap, ","),
		Token:          strings.TrimSpace(string(token)),
		SecretKeyFile:  f.secretKeyFile,
		TLSCertFile:    f.tlsCert,
		TLSKeyFile:     f.tlsKey,
		AgentID:        f.agentID,
		SessionTimeout: f.sessionTimeout,
		FailoverStep:   failoverStep,
	}, stdout)
}

// failoverStep is nil in the agent binary; the test binary, which doubles
// as the agent, sets it to stop an agent in the middle of a failover.
var failoverStep func(policy, step string)
