package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kafka-failover/kafka-failover/internal/failover"
	"github.com/kafka-failover/kafka-failover/internal/kafkaconn"
	"github.com/kafka-failover/kafka-failover/internal/mirror"
	"github.com/kafka-failover/kafka-failover/internal/store"
)

// Config is what an agent process needs; the agent binary fills it from
// flags and the environment, tests fill it directly.
type Config struct {
	Listen         string         // address of the HTTP API
	State          kafkaconn.Conn // the cluster the agent runs beside, with its SASL and TLS
	Token          string         // the API's bearer token
	SecretKeyFile  string         // encrypts stored secrets; empty refuses secrets
	TLSCertFile    string         // serve the API over TLS when set
	TLSKeyFile     string         //
	AgentID        string         // names this replica in status answers
	Version        string         // the build's version, logged at start
	SessionTimeout time.Duration  // how soon a silent replica's tasks move
	RequestTimeout time.Duration  // an API request's budget, failovers aside; 0 for DefaultRequestTimeout
	// Ready, when set, receives the API's base URL once it listens.
	Ready func(url string)
	// FailoverStep, when set, is called after each failover step that a
	// crash may interrupt (failover.Executor.AfterStep).
	FailoverStep func(policy, step string)
	// MirrorHooks are the mirrors' test hooks; zero in the agent binary.
	MirrorHooks mirror.Hooks
}

// DefaultRequestTimeout is how long an API request other than a failover
// or a reverse may take, its state-topic writes included.
const DefaultRequestTimeout = 30 * time.Second

// Run runs an agent until ctx ends: the state store, the mirror engine and
// the HTTP API.
func Run(ctx context.Context, cfg Config, stdout io.Writer) error {
	if cfg.AgentID == "" {
		host, _ := os.Hostname()
		cfg.AgentID = host + "/" + cfg.Listen
	}
	log := newLogger(stdout).With("agent", cfg.AgentID)
	if len(cfg.Token) < 16 {
		return fmt.Errorf("the API token is %d characters; use at least 16 random characters", len(cfg.Token))
	}
	var sealer *store.Sealer
	if cfg.SecretKeyFile != "" {
		var err error
		if sealer, err = store.LoadSealer(cfg.SecretKeyFile); err != nil {
			return err
		}
	} else {
		log.Warn("no secret key file: clusters with SASL passwords or TLS keys will be refused")
	}

	reg := newRegistry(log)
	state := cfg.State
	state.Name = "state"
	state.Observer = reg.clients
	openCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	st, err := store.Open(openCtx, state, sealer)
	cancel()
	if err != nil {
		return err
	}
	defer st.Close()
	if err := bindSecrets(ctx, st, log); err != nil {
		return err
	}
	warnAnonymousWriters(ctx, state, log)
	boardCtx, stopBoard := context.WithCancel(context.Background())
	defer stopBoard()
	board, err := mirror.OpenBoard(boardCtx, state)
	if err != nil {
		return err
	}
	defer board.Close()
	board.Format = st.Format
	go announceFormat(boardCtx, st, board, cfg.AgentID, cfg.Version, log)

	mg := &mirror.Manager{Store: st, State: state, Log: log, Metrics: reg.mirror, Board: board, Sessions: cfg.SessionTimeout, AgentID: cfg.AgentID, CheckpointMetrics: reg.checkpoint, Hooks: cfg.MirrorHooks}
	mgDone := make(chan struct{})
	go func() {
		defer close(mgDone)
		mg.Run(ctx)
	}()
	defer func() { <-mgDone }()

	// A failover this replica left under way when it stopped is aborted
	// cleanly; so is any whose executor went silent for too long.
	exec := &failover.Executor{Store: st, Mirrors: mg, AgentID: cfg.AgentID, Log: log, AfterStep: cfg.FailoverStep}
	started := time.Now()
	go exec.RetryCommits(ctx)
	go func() {
		t := time.NewTicker(failover.RecoverEvery)
		defer t.Stop()
		for {
			exec.Recover(ctx, started)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	requestTimeout := cfg.RequestTimeout
	if requestTimeout <= 0 {
		requestTimeout = DefaultRequestTimeout
	}
	guard := newConnGuard(apiConnections())
	srv := &http.Server{
		Handler: guard.busy(NewServer(Deps{Store: st, Status: mg.StatusOf, Groups: mg.GroupCheckpoints, Failover: exec,
			Token: cfg.Token, Log: log, Registry: reg.Registry, RequestTimeout: requestTimeout})),
		// A client has this long to send a request; an answer this long
		// to leave (failover and reverse lift it: they take what they take).
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      requestTimeout + 10*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ConnState:         guard.state,
		ConnContext:       guard.connContext,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load the API's TLS certificate and key: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	ln = guard.listener(ln)
	url := scheme + "://" + ln.Addr().String()
	log.Info("agent listening", "version", cfg.Version, "url", url, "state_bootstrap", strings.Join(state.BootstrapServers, ","),
		"state_sasl_mechanism", state.SASLMechanism, "state_tls", state.TLS)
	if scheme == "http" && beyondLoopback(ln.Addr().String()) {
		log.Warn("the API listens beyond loopback without TLS: its bearer token and the clusters' passwords and keys sent to it cross the network in plaintext",
			"listen", ln.Addr().String(),
			"fix", "serve TLS with --tls-cert-file and --tls-key-file, or listen on 127.0.0.1 behind a proxy that terminates TLS")
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if cfg.Ready != nil {
		cfg.Ready(url)
	}

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("agent stopping")
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelShutdown()
	_ = srv.Shutdown(shutdownCtx)
	return nil
}

// bindSecrets re-seals secrets stored by older agents bound to their
// clusters, before anything uses them, and says what it did.
func bindSecrets(ctx context.Context, st *store.Store, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	resealed, failed, err := st.BindSecrets(ctx)
	if len(resealed) > 0 {
		log.Info("stored secrets re-sealed, bound to their clusters", "clusters", resealed)
	}
	if len(failed) > 0 {
		log.Error("stored secrets that do not open with this --secret-key-file stay unbound and unused until they are sent again", "clusters", failed)
	}
	if err != nil {
		return fmt.Errorf("re-seal stored secrets: %w", err)
	}
	return nil
}

// warnAnonymousWriters says at start when anonymous clients may write the
// agent's topics on its state cluster (README: Securing the state cluster).
func warnAnonymousWriters(ctx context.Context, state kafkaconn.Conn, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	topics, why, err := store.AnonymousWriters(ctx, state)
	if err != nil {
		log.Info("cannot tell whether anonymous clients may write the agent's __kfo_* topics", "error", err)
	}
	if len(why) == 0 {
		return
	}
	log.Warn("anonymous clients may write the agent's __kfo_* topics on its state cluster, and so change the clusters, mirrors and failovers it carries out",
		"topics", topics, "why", why,
		"fix", "connect the agent with its own principal (--state-sasl-*, or --state-tls-cert-file on a listener that requires client certificates), enable an authorizer on the state cluster, allow only that principal to write __kfo_* topics and remove ALLOW ACLs for User:* and User:ANONYMOUS on them; see README, Securing the state cluster")
}
