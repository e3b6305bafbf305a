package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kafka-failover/kafka-failover/internal/agent"
	"github.com/kafka-failover/kafka-failover/internal/devcluster"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/store"
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
	if f.agentID == "" {
		host, _ := os.Hostname()
		f.agentID = host + "/" + f.listen
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil)).With("agent", f.agentID)
	tokenBytes, err := os.ReadFile(f.tokenFile)
	if err != nil {
		return fmt.Errorf("read --token-file: %w", err)
	}
	token := strings.TrimSpace(string(tokenBytes))
	if len(token) < 16 {
		return fmt.Errorf("the token in %s is %d characters; use at least 16 random characters", f.tokenFile, len(token))
	}
	var sealer *store.Sealer
	if f.secretKeyFile != "" {
		if sealer, err = store.LoadSealer(f.secretKeyFile); err != nil {
			return err
		}
	} else {
		log.Warn("no --secret-key-file: clusters with SASL passwords or TLS keys will be refused")
	}

	state := kafkaconn.Conn{Name: "state", BootstrapServers: strings.Split(f.stateBootstrap, ",")}
	openCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	st, err := store.Open(openCtx, state, sealer)
	cancel()
	if err != nil {
		return err
	}
	defer st.Close()
	boardCtx, stopBoard := context.WithCancel(context.Background())
	defer stopBoard()
	board, err := mirror.OpenBoard(boardCtx, state)
	if err != nil {
		return err
	}
	defer board.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mg := &mirror.Manager{Store: st, State: state, Log: log, Metrics: mirror.NewMetrics(reg), Board: board, Sessions: f.sessionTimeout, AgentID: f.agentID}
	mgDone := make(chan struct{})
	go func() {
		defer close(mgDone)
		mg.Run(ctx)
	}()

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.listen, err)
	}
	srv := &http.Server{
		Handler:           agent.NewServer(agent.Deps{Store: st, Status: mg.StatusOf, Token: token, Log: log, Registry: reg}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	scheme := "http"
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return fmt.Errorf("load --tls-cert-file/--tls-key-file: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	log.Info("agent listening", "url", scheme+"://"+ln.Addr().String(), "state_bootstrap", f.stateBootstrap)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("agent stopping")
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	_ = srv.Shutdown(shutdownCtx)
	<-mgDone
	return nil
}
