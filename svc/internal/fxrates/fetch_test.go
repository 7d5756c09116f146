package fxrates

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// script serves one scripted behaviour per request: a status code, "slow" (longer
// than the client's time-out), "cut" (the connection closed mid-body) or "ok".
func script(t *testing.T, steps ...string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	body := recorded(t, "2026-11-23")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		step := "ok"
		if i < len(steps) {
			step = steps[i]
		}
		switch step {
		case "ok":
			w.Header().Set("Content-Type", "text/xml")
			_, _ = w.Write([]byte(body))
		case "slow":
			time.Sleep(600 * time.Millisecond)
		case "cut":
			w.Header().Set("Content-Length", "100000")
			_, _ = w.Write([]byte(body[:200]))
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case "503":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "429":
			w.WriteHeader(http.StatusTooManyRequests)
		case "404":
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func fetcher(url string) *Fetcher {
	return &Fetcher{Client: &http.Client{Timeout: 300 * time.Millisecond}, URL: url, MaxAttempts: 5,
		BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
}

func TestFetchRetriesWhatARetryCanFix(t *testing.T) {
	srv, n := script(t, "503", "slow", "cut", "429", "ok")
	body, err := fetcher(srv.URL).Fetch(context.Background())
	if err != nil || n.Load() != 5 {
		t.Fatalf("after %d attempts: %v", n.Load(), err)
	}
	if _, err := ParseECB(body); err != nil {
		t.Fatal(err)
	}
}

func TestFetchGivesUp(t *testing.T) {
	srv, n := script(t, "503", "503", "503", "503", "503", "ok")
	if _, err := fetcher(srv.URL).Fetch(context.Background()); err == nil || n.Load() != 5 {
		t.Fatalf("want failure after 5 attempts, got %v after %d", err, n.Load())
	}
	srv404, n404 := script(t, "404", "ok")
	if _, err := fetcher(srv404.URL).Fetch(context.Background()); err == nil || n404.Load() != 1 {
		t.Fatalf("a 404 must not be retried: %v after %d", err, n404.Load())
	}
	// Nothing listening at all.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	f := fetcher("http://" + addr)
	f.MaxAttempts = 2
	if _, err := f.Fetch(context.Background()); err == nil {
		t.Fatal("fetch from a closed port succeeded")
	}
}
