// Package metrics holds Vane's Prometheus metrics: one registry per process, with bounded labels
// only (route templates, reasons, outcomes; never flag keys, organisations or raw paths).
package metrics

import (
	"database/sql"
	"net/http"
	"strconv"
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
	streams       prometheus.Gauge
	changeNotices prometheus.Counter
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
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vane_sse_connections",
			Help: "Open Server-Sent Events streams (SDK and OFREP)."}),
		changeNotices: prometheus.NewCounter(prometheus.CounterOpts{Name: "vane_change_notices_total",
			Help: "Configuration change notices applied by this node's data plane."}),
	}
	r.MustRegister(m.evaluations, m.requests, m.rebuilds, m.streams, m.changeNotices,
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
	m.evaluations.WithLabelValues(reason).Add(float64(n))
}

// Request observes one HTTP request; route must be a template ("/api/v1/orgs/:org"), never a path.
func (m *Metrics) Request(route, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Observe(d.Seconds())
}

// Rebuilt observes one snapshot build.
func (m *Metrics) Rebuilt(d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.rebuilds.WithLabelValues(outcome).Observe(d.Seconds())
}

// Streams moves the open-stream gauge by delta.
func (m *Metrics) Streams(delta int) { m.streams.Add(float64(delta)) }

// ChangeNotice counts one change notice applied.
func (m *Metrics) ChangeNotice() { m.changeNotices.Inc() }
