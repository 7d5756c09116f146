// Package health serves the Kubernetes probes: /livez (the process is alive), /startupz
// (start-up finished: migrations applied, stores reachable once), and /readyz (the
// dependencies answer now and the process is not draining).
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Check reports whether one dependency is usable.
type Check func(ctx context.Context) error

// Probes holds the state behind the three endpoints.
type Probes struct {
	started  atomic.Bool
	draining atomic.Bool
	checks   map[string]Check
	timeout  time.Duration
}

// New returns probes that run checks, each bounded by timeout, on every /readyz.
func New(checks map[string]Check, timeout time.Duration) *Probes {
	return &Probes{checks: checks, timeout: timeout}
}

// MarkStarted flips /startupz to 200.
func (p *Probes) MarkStarted() { p.started.Store(true) }

// StartDraining flips /readyz to 503 for good, so the load balancer stops sending new
// requests before the server stops accepting them.
func (p *Probes) StartDraining() { p.draining.Store(true) }

// Draining reports whether StartDraining was called.
func (p *Probes) Draining() bool { return p.draining.Load() }

// Register adds the three endpoints to mux.
func (p *Probes) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /startupz", func(w http.ResponseWriter, _ *http.Request) {
		if !p.started.Load() {
			write(w, http.StatusServiceUnavailable, map[string]any{"status": "starting"})
			return
		}
		write(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if p.draining.Load() {
			write(w, http.StatusServiceUnavailable, map[string]any{"status": "draining"})
			return
		}
		if !p.started.Load() {
			write(w, http.StatusServiceUnavailable, map[string]any{"status": "starting"})
			return
		}
		results := p.run(r.Context())
		status, code := "ok", http.StatusOK
		for _, v := range results {
			if v != "ok" {
				status, code = "unavailable", http.StatusServiceUnavailable
			}
		}
		write(w, code, map[string]any{"status": status, "checks": results})
	})
}

// run executes the checks concurrently so /readyz takes as long as the slowest one.
func (p *Probes) run(ctx context.Context) map[string]string {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := make(map[string]string, len(p.checks))
	for name, check := range p.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := "ok"
			if err := check(ctx); err != nil {
				msg = err.Error()
			}
			mu.Lock()
			out[name] = msg
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func write(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}
