// Package metrics holds Vane's Prometheus metrics: one registry per process, with bounded labels
// only (route templates, reasons, outcomes; never flag keys, organisations or raw paths).
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the process's registry and the metrics the code updates.
type Metrics struct {
	Registry      *prometheus.Registry
	evaluations   *prometheus.CounterVec
	requests      *prometheus.HistogramVec
	rebuilds      *prometheus.HistogramVec
	compiled      prometheus.Counter
	streams       prometheus.Gauge
	changeNotices prometheus.Counter
	changeLag     prometheus.Histogram
	tasks         *prometheus.CounterVec
	guardChecks   *prometheus.CounterVec
	rollbacks     *prometheus.CounterVec
	webhooks      *prometheus.CounterVec
	// the children of the hot vectors, resolved once per label set (labels are bounded: route
	// templates, methods, status codes, reasons)
	requestObs sync.Map // requestKey → prometheus.Observer
	reasonCtrs sync.Map // reason → prometheus.Counter
}

type requestKey struct {
	route, method string
	code          int
}

// New registers Vane's metrics, the Go runtime's and the process's, and, when db is not nil, the
// database pool's statistics.
func New(db *sql.DB) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vane_evaluations_total",
			Help: "Flag evaluations served, by reason (TARGETING_MATCH, SPLIT, DEFAULT, DISABLED, ERROR, FLAG_NOT_FOUND, STATIC)."}, []string{"reason"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vane_http_request_duration_seconds",
			Help:    "HTTP request latency by route template, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"route", "method", "code"}),
		rebuilds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vane_snapshot_rebuild_duration_seconds",
			Help:    "Time to load and compile one environment's snapshot, by outcome (ok, error).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"outcome"}),
		compiled: prometheus.NewCounter(prometheus.CounterOpts{Name: "vane_snapshot_flags_compiled_total",
			Help: "Flags compiled by snapshot builds: a change costs the flags it touched, a first load the environment."}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vane_sse_connections",
			Help: "Open Server-Sent Events streams (SDK and OFREP)."}),
		changeNotices: prometheus.NewCounter(prometheus.CounterOpts{Name: "vane_change_notices_total",
			Help: "Configuration change notices applied by this node's data plane."}),
		changeLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vane_change_notice_lag_seconds",
			Help:    "Time from a change notice's publication (by any node, this one included) to its arrival here through Redis.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vane_tasks_total",
			Help: "Background tasks run by this process's worker, by task type and outcome (ok, error)."}, []string{"type", "outcome"}),
		guardChecks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vane_guard_checks_total",
			Help: "Safety-guard evaluations of running rollout plans, by outcome (ok, breached, too_few_samples, cooling_down)."},
			[]string{"outcome"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vane_guard_rollbacks_total",
			Help: "Rollbacks performed by safety guards, by cause (guard: a breached threshold; trigger: the trigger URL was called)."},
			[]string{"cause"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vane_webhook_deliveries_total",
			Help: "Webhook delivery attempts, by outcome (succeeded, retrying, failed)."}, []string{"outcome"}),
	}
	r.MustRegister(m.evaluations, m.requests, m.rebuilds, m.compiled, m.streams, m.changeNotices, m.changeLag, m.tasks, m.guardChecks,
		m.rollbacks, m.webhooks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		r.MustRegister(collectors.NewDBStatsCollector(db, "vane"))
	}
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Evaluated counts n evaluations with a reason.
func (m *Metrics) Evaluated(reason string, n int) {
	c, ok := m.reasonCtrs.Load(reason)
	if !ok {
		c, _ = m.reasonCtrs.LoadOrStore(reason, m.evaluations.WithLabelValues(reason))
	}
	c.(prometheus.Counter).Add(float64(n))
}

// Request observes one HTTP request; route must be a template ("/api/v1/orgs/:org"), never a path.
func (m *Metrics) Request(route, method string, code int, d time.Duration) {
	k := requestKey{route: route, method: method, code: code}
	o, ok := m.requestObs.Load(k)
	if !ok {
		o, _ = m.requestObs.LoadOrStore(k, m.requests.WithLabelValues(route, method, strconv.Itoa(code)))
	}
	o.(prometheus.Observer).Observe(d.Seconds())
}

// Rebuilt observes one snapshot build.
func (m *Metrics) Rebuilt(d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.rebuilds.WithLabelValues(outcome).Observe(d.Seconds())
}

// Compiled counts flags compiled by a snapshot build.
func (m *Metrics) Compiled(n int) { m.compiled.Add(float64(n)) }

// Streams moves the open-stream gauge by delta.
func (m *Metrics) Streams(delta int) { m.streams.Add(float64(delta)) }

// ChangeNotice counts one change notice applied.
func (m *Metrics) ChangeNotice() { m.changeNotices.Inc() }

// ChangeLag observes how long a change notice took from its publication to its arrival.
func (m *Metrics) ChangeLag(d time.Duration) { m.changeLag.Observe(max(d, 0).Seconds()) }

// TaskDone counts one background task by type (a fixed set) and outcome.
func (m *Metrics) TaskDone(taskType string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.tasks.WithLabelValues(taskType, outcome).Inc()
}

// GuardChecked counts one safety-guard evaluation by outcome.
func (m *Metrics) GuardChecked(outcome string) { m.guardChecks.WithLabelValues(outcome).Inc() }

// RolledBack counts one rollback by a safety guard, by cause.
func (m *Metrics) RolledBack(cause string) { m.rollbacks.WithLabelValues(cause).Inc() }

// WebhookDelivered counts one webhook delivery attempt by outcome.
func (m *Metrics) WebhookDelivered(outcome string) { m.webhooks.WithLabelValues(outcome).Inc() }

// QueueSize is how many tasks one job queue holds in each state.
type QueueSize struct {
	Queue                                       string
	Pending, Active, Scheduled, Retry, Archived int
}

// WatchQueues serves vane_queue_tasks{queue,state}, read from sizes at each scrape (within 2 s;
// a queue that cannot be read is left out of that scrape and counted in vane_queue_scrape_errors_total).
func (m *Metrics) WatchQueues(sizes func(ctx context.Context) ([]QueueSize, error)) {
	m.Registry.MustRegister(&queueCollector{sizes: sizes,
		desc: prometheus.NewDesc("vane_queue_tasks", "Background tasks in each job queue, by state (pending, active, scheduled, retry, archived).",
			[]string{"queue", "state"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "vane_queue_scrape_errors_total",
			Help: "Scrapes that could not read the job queues' sizes (Redis unreachable)."})})
}

type queueCollector struct {
	sizes  func(ctx context.Context) ([]QueueSize, error)
	desc   *prometheus.Desc
	errors prometheus.Counter
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- q.desc
	q.errors.Describe(ch)
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	sizes, err := q.sizes(ctx)
	if err != nil {
		q.errors.Inc()
	}
	for _, s := range sizes {
		for state, n := range map[string]int{"pending": s.Pending, "active": s.Active, "scheduled": s.Scheduled,
			"retry": s.Retry, "archived": s.Archived} {
			ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), s.Queue, state)
		}
	}
	q.errors.Collect(ch)
}
