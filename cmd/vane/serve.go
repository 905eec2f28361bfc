package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"gorm.io/gorm"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/db"
	"github.com/vanehq/vane/internal/logctx"
	"github.com/vanehq/vane/internal/metrics"
	"github.com/vanehq/vane/internal/redisx"
	"github.com/vanehq/vane/jobs"
	"github.com/vanehq/vane/policies"
	"github.com/vanehq/vane/services"
	"github.com/vanehq/vane/web"
)

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	// logctx.Handler puts the request id on every line logged with a request's context.
	if cfg.LogFormat == "json" {
		return slog.New(logctx.Handler{Handler: slog.NewJSONHandler(w, opts)})
	}
	return slog.New(logctx.Handler{Handler: slog.NewTextHandler(w, opts)})
}

// stack is what every command that serves or works needs: configuration, logs, the database and
// Redis, and the services on top of them.
type stack struct {
	cfg   *config.Config
	log   *slog.Logger
	db    *gorm.DB
	redis *redisx.Conn
	svc   *services.Services
}

func openStack(ctx context.Context, getenv func(string) string, stderr io.Writer, migrateOnStart bool) (*stack, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	log := newLogger(cfg, stderr)
	generated, err := cfg.EnsureJWTSecret()
	if err != nil {
		return nil, err
	}
	if generated {
		log.Warn("VANE_JWT_SECRET is not set; generated one in the data directory (set it in production)")
	}
	gdb, dialect, err := db.Open(ctx, db.Options{URL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), Logger: log})
	if err != nil {
		return nil, err
	}
	where := cfg.SQLitePath()
	if dialect == db.Postgres {
		where = "postgres"
	}
	log.Info("database open", "dialect", dialect, "where", where)
	if migrateOnStart && cfg.AutoMigrate {
		n, err := db.MigrateUp(ctx, gdb, dialect)
		if err != nil {
			_ = db.Close(gdb)
			return nil, err
		}
		log.Info("migrations applied", "count", n)
	}
	rc, err := redisx.Open(ctx, cfg.RedisURL, log)
	if err != nil {
		_ = db.Close(gdb)
		return nil, err
	}
	svc := services.New(services.Deps{DB: gdb, Redis: rc.Client, Config: cfg, Log: log})
	return &stack{cfg: cfg, log: log, db: gdb, redis: rc, svc: svc}, nil
}

func (s *stack) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.svc.Close(ctx)
	s.redis.Close()
	_ = db.Close(s.db)
}

func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	st, err := openStack(ctx, getenv, stderr, true)
	if err != nil {
		return err
	}
	defer st.close()
	log := st.log
	boot, err := st.svc.Bootstrap(ctx)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if boot.Created {
		if boot.Password != "" {
			// Logged once, on the first start of an empty database: the only time it exists in clear.
			log.Warn("created organization \"default\" and its first ADMIN; sign in and change the password",
				"username", boot.Username, "email", boot.Email, "password", boot.Password)
		} else {
			log.Info("created organization \"default\" and its first ADMIN", "username", boot.Username, "email", boot.Email)
		}
	}
	enforcer, err := policies.New()
	if err != nil {
		return err
	}
	sqlDB, err := st.db.DB()
	if err != nil {
		return err
	}
	m := metrics.New(sqlDB)
	st.svc.SetHooks(observed(m))
	plane := dataplane.New(st.svc.Source, dataplane.Options{Log: log, Hooks: dataplane.Hooks{
		Rebuilt: m.Rebuilt, Compiled: m.Compiled, Evaluated: m.Evaluated, Streams: m.Streams, Changed: m.ChangeNotice}})
	st.svc.SetPendingEvaluations(plane.Pending)
	router, err := api.NewRouter(api.Deps{Services: st.svc, Plane: plane, Enforcer: enforcer, Log: log,
		CORSOrigins: st.cfg.CORSOrigins, TrustedProxies: st.cfg.TrustedProxies, Portal: web.Dist(),
		Metrics: m, MetricsRoute: st.cfg.MetricsAddr == ""})
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	st.svc.Start(runCtx)
	if err := plane.Start(runCtx); err != nil {
		return err
	}
	defer func() { // before the services and the database close (deferred earlier)
		cancel()
		closeCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		plane.Close(closeCtx)
	}()
	queue := jobs.NewQueue(st.redis.Options) // the API schedules rollout stages even when another process works them
	defer queue.Close()
	st.svc.SetScheduler(queue)
	m.WatchQueues(queue.Sizes)
	recoverRollouts(runCtx, st)

	if st.cfg.Worker {
		w, err := jobs.NewWorker(st.redis.Options, st.svc, log, 4)
		if err != nil {
			return err
		}
		w.Observe(m.TaskDone)
		if err := w.Start(); err != nil {
			return err
		}
		defer w.Shutdown()
		log.Info("in-process worker started")
	}

	ln, err := net.Listen("tcp", st.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", st.cfg.Addr, err)
	}
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		IdleTimeout: 120 * time.Second}
	srv.RegisterOnShutdown(plane.EndStreams) // open streams end at once, so a graceful stop need not wait for them
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("vane is serving", "addr", ln.Addr().String(), "version", version, "swagger", "/swagger/index.html",
		"portal", "http://"+browsable(ln.Addr())+"/")
	var portalSrv *http.Server
	if st.cfg.PortalAddr != "" {
		// The portal's own address (source 000's http://localhost:3000): the same handler, so the app
		// and the API it calls share one origin. A busy port only costs this address.
		if pln, err := net.Listen("tcp", st.cfg.PortalAddr); err != nil {
			log.Warn("the portal's address is busy; the portal is still served at / of the API address",
				"portal_addr", st.cfg.PortalAddr, "err", err)
		} else {
			portalSrv = &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
				IdleTimeout: 120 * time.Second}
			portalSrv.RegisterOnShutdown(plane.EndStreams)
			go func() { errc <- portalSrv.Serve(pln) }()
			log.Info("the portal is serving", "url", "http://"+browsable(pln.Addr())+"/")
		}
	}
	if st.cfg.MetricsAddr != "" { // /metrics on its own listener, e.g. one only Prometheus reaches
		msrv, err := serveMetrics(st, m, errc)
		if err != nil {
			return err
		}
		defer func() { _ = msrv.Close() }()
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", st.cfg.ShutdownTimeout)
	shutCtx, cancelShut := context.WithTimeout(context.Background(), st.cfg.ShutdownTimeout)
	defer cancelShut()
	if portalSrv != nil {
		if err := portalSrv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("shutdown portal: %w", err)
		}
	}
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// observed are the services' hooks that count into m.
func observed(m *metrics.Metrics) services.Hooks {
	return services.Hooks{ChangeLag: m.ChangeLag, GuardChecked: m.GuardChecked, RolledBack: m.RolledBack,
		WebhookDelivered: m.WebhookDelivered}
}

// serveMetrics serves GET /metrics on VANE_METRICS_ADDR; a failure of the listener goes to errc.
func serveMetrics(st *stack, m *metrics.Metrics, errc chan<- error) (*http.Server, error) {
	mln, err := net.Listen("tcp", st.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (VANE_METRICS_ADDR): %w", st.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { errc <- msrv.Serve(mln) }()
	st.log.Info("metrics on their own address", "addr", mln.Addr().String())
	return msrv, nil
}

// browsable is a listen address as a browser reaches it: an unspecified host becomes localhost.
func browsable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func worker(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	st, err := openStack(ctx, getenv, stderr, false)
	if err != nil {
		return err
	}
	defer st.close()
	if st.redis.Embedded != nil {
		st.log.Warn("REDIS_URL is not set: this worker has its own embedded store and sees no tasks from `vane serve`; " +
			"set REDIS_URL, or let `vane serve` run the worker in-process")
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	st.svc.Start(runCtx)
	queue := jobs.NewQueue(st.redis.Options)
	defer queue.Close()
	st.svc.SetScheduler(queue)
	sqlDB, err := st.db.DB()
	if err != nil {
		return err
	}
	m := metrics.New(sqlDB)
	st.svc.SetHooks(observed(m))
	m.WatchQueues(queue.Sizes)
	recoverRollouts(runCtx, st)
	w, err := jobs.NewWorker(st.redis.Options, st.svc, st.log, 10)
	if err != nil {
		return err
	}
	w.Observe(m.TaskDone)
	errc := make(chan error, 1)
	if st.cfg.MetricsAddr != "" { // the worker's metrics (tasks, guards, webhooks) have no other address
		msrv, err := serveMetrics(st, m, errc)
		if err != nil {
			return err
		}
		defer func() { _ = msrv.Close() }()
	}
	if err := w.Start(); err != nil {
		return err
	}
	st.log.Info("worker started")
	select {
	case <-ctx.Done():
	case err := <-errc:
		w.Shutdown()
		return fmt.Errorf("serve metrics: %w", err)
	}
	st.log.Info("worker shutting down")
	w.Shutdown()
	return nil
}

// recoverRollouts catches up, before serving, on rollout stages that fell due and plan changes the
// queue missed while no process ran (see jobs.Recover); it never waits more than 30 seconds.
func recoverRollouts(ctx context.Context, st *stack) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	jobs.Recover(ctx, st.svc, st.log)
}
