// Command streams is the client of the SSE load test (scripts/load/streams.sh): it opens -n
// Server-Sent Event streams to one Vane node, measures the node's memory per idle stream, then
// makes -changes configuration changes through the management API and measures, for each, how long
// each stream took to receive it (from just before the write was sent to the event's arrival).
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "streams:", err)
		os.Exit(1)
	}
}

type options struct {
	base, path, sdkKey, token, flagURL string
	n, changes, dialers                int
	pid                                int
	settle, wait                       time.Duration
}

func run() error {
	var o options
	flag.StringVar(&o.base, "base", "http://127.0.0.1:18083", "the Vane node")
	flag.StringVar(&o.path, "path", "/api/v1/sdk/stream", "the stream: /api/v1/sdk/stream or /ofrep/v1/stream")
	flag.StringVar(&o.sdkKey, "sdk-key", "", "a server SDK key of the environment")
	flag.StringVar(&o.token, "token", "", "a management credential (JWT or API key) that may change the flag")
	flag.StringVar(&o.flagURL, "flag-config", "", "the flag configuration URL the changes PATCH (…/flags/{flag}/environments/{env})")
	flag.IntVar(&o.n, "n", 10000, "streams to open")
	flag.IntVar(&o.changes, "changes", 5, "changes to make once every stream is open")
	flag.IntVar(&o.dialers, "dialers", 100, "streams opened at once")
	flag.IntVar(&o.pid, "pid", 0, "the node's process id, for its resident memory (0: not measured)")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "idle time before memory is measured")
	flag.DurationVar(&o.wait, "wait", 30*time.Second, "how long a change may take to reach every stream")
	flag.Parse()
	if o.sdkKey == "" || o.token == "" || o.flagURL == "" {
		return errors.New("-sdk-key, -token and -flag-config are required")
	}
	u, err := url.Parse(o.base)
	if err != nil {
		return err
	}

	before, err := nodeMemory(o)
	if err != nil {
		return err
	}
	start := time.Now()
	streams := make([]*stream, o.n)
	var opened atomic.Int64
	errs := make(chan error, o.n)
	sem := make(chan struct{}, o.dialers)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			s, err := open(u.Host, o.path, o.sdkKey)
			if err != nil {
				errs <- fmt.Errorf("stream %d: %w", i, err)
				return
			}
			streams[i] = s
			opened.Add(1)
		}(i)
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed == 0 {
			fmt.Fprintln(os.Stderr, "first failure:", err)
		}
		failed++
	}
	live := make([]*stream, 0, o.n)
	for _, s := range streams {
		if s != nil {
			live = append(live, s)
		}
	}
	fmt.Printf("opened %d streams in %s (%d failed), each got its configuration\n", len(live), time.Since(start).Round(time.Millisecond), failed)
	if len(live) == 0 {
		return errors.New("no stream opened")
	}
	for _, s := range live {
		go s.read()
	}

	time.Sleep(o.settle)
	after, err := nodeMemory(o)
	if err != nil {
		return err
	}
	n := float64(len(live))
	fmt.Printf("node memory with %d idle streams: rss +%.1f KB/stream, go heap in use +%.1f KB/stream, goroutine stacks +%.1f KB/stream\n",
		len(live), float64(after.rss-before.rss)/n/1024, float64(after.heap-before.heap)/n/1024, float64(after.stack-before.stack)/n/1024)

	var all []time.Duration
	for c := 0; c < o.changes; c++ {
		lat, missed, err := change(o, live, c)
		if err != nil {
			return err
		}
		all = append(all, lat...)
		fmt.Printf("change %d: %d streams received it: p50 %s p99 %s max %s; %d not within %s\n", c+1, len(lat),
			pct(lat, 50), pct(lat, 99), pct(lat, 100), missed, o.wait)
		time.Sleep(time.Second)
	}
	fmt.Printf("all %d changes: %d deliveries, p50 %s p99 %s max %s\n", o.changes, len(all), pct(all, 50), pct(all, 99), pct(all, 100))
	for _, s := range live {
		_ = s.conn.Close()
	}
	return nil
}

// stream is one open SSE connection. The reader goroutine records the arrival of every event id.
type stream struct {
	conn    net.Conn
	r       *bufio.Reader
	version atomic.Int64 // the last event id read
	mu      sync.Mutex
	arrived map[int64]time.Time
}

// open sends the stream request and reads the response head and the first event.
func open(host, path, key string) (*stream, error) {
	conn, err := net.DialTimeout("tcp", host, 30*time.Second)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nX-API-Key: %s\r\n\r\n", path, host, key); err != nil {
		_ = conn.Close()
		return nil, err
	}
	r := bufio.NewReaderSize(conn, 4096)
	status, err := r.ReadString('\n')
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	if !strings.Contains(status, " 200 ") {
		_ = conn.Close()
		return nil, fmt.Errorf("status %q", strings.TrimSpace(status))
	}
	for { // headers
		line, err := r.ReadString('\n')
		if err != nil {
			_ = conn.Close()
			return nil, err
		}
		if line == "\r\n" {
			break
		}
	}
	s := &stream{conn: conn, r: r, arrived: map[int64]time.Time{}}
	id, err := s.event()
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("first event: %w", err)
	}
	s.version.Store(id)
	_ = conn.SetDeadline(time.Time{})
	return s, nil
}

// event reads up to the end of the next event and returns its id; heartbeats (comments without
// an id) are skipped. The body is chunked: chunk sizes and chunk ends are lines of their own, which
// never start with "id: " and, being blank or not, end no event that has not shown its id.
func (s *stream) event() (int64, error) {
	id := int64(-1)
	for {
		line, err := s.r.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) { // a long data line (a whole configuration)
			line = []byte("data")
			_, err = s.r.ReadSlice('\n')
		}
		if err != nil {
			return 0, err
		}
		switch {
		case bytes.HasPrefix(line, []byte("id: ")):
			v, err := strconv.ParseInt(string(bytes.TrimSpace(line[4:])), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("event id %q: %w", line, err)
			}
			id = v
		case len(bytes.TrimSpace(line)) == 0 && id >= 0:
			return id, nil
		}
	}
}

func (s *stream) read() {
	for {
		id, err := s.event()
		if err != nil {
			return
		}
		now := time.Now()
		s.mu.Lock()
		s.arrived[id] = now
		s.mu.Unlock()
		s.version.Store(id)
	}
}

// change makes one change and returns how long each stream took to receive an event of a later
// version than the one it held, and how many did not within o.wait.
func change(o options, live []*stream, c int) ([]time.Duration, int, error) {
	held := make([]int64, len(live))
	for i, s := range live {
		held[i] = s.version.Load()
	}
	body := fmt.Sprintf(`{"rollout_percentage": %d}`, 10+c*10)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPatch, o.base+o.flagURL, strings.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+o.token)
	sent := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("change %d: %s %s", c+1, res.Status, b)
	}
	deadline := sent.Add(o.wait)
	for time.Now().Before(deadline) {
		done := 0
		for i, s := range live {
			if s.version.Load() > held[i] {
				done++
			}
		}
		if done == len(live) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var lat []time.Duration
	missed := 0
	for i, s := range live {
		s.mu.Lock()
		first := time.Time{}
		for id, at := range s.arrived {
			if id > held[i] && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
		s.mu.Unlock()
		if first.IsZero() {
			missed++
			continue
		}
		lat = append(lat, first.Sub(sent))
	}
	return lat, missed, nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1].Round(time.Millisecond)
}

type memory struct{ rss, heap, stack int64 }

// nodeMemory reads the node's resident memory (/proc/pid/status) and its Go heap and stacks in use
// (its /metrics, as its last garbage collection left them).
func nodeMemory(o options) (memory, error) {
	var m memory
	if o.pid > 0 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", o.pid))
		if err != nil {
			return m, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.rss = kb * 1024
			}
		}
	}
	res, err := http.Get(o.base + "/metrics")
	if err != nil {
		return m, err
	}
	defer func() { _ = res.Body.Close() }()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "go_memstats_heap_inuse_bytes":
			m.heap = int64(v)
		case "go_memstats_stack_inuse_bytes":
			m.stack = int64(v)
		}
	}
	return m, sc.Err()
}
