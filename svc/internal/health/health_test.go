package health

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code
}

func TestProbeLifecycle(t *testing.T) {
	var dbErr error
	p := New(map[string]Check{
		"postgres": func(context.Context) error { return dbErr },
		"redis":    func(context.Context) error { return nil },
	}, time.Second)
	mux := http.NewServeMux()
	p.Register(mux)

	if get(t, mux, "/livez") != 200 || get(t, mux, "/startupz") != 503 || get(t, mux, "/readyz") != 503 {
		t.Fatal("before start: want live, not started, not ready")
	}
	p.MarkStarted()
	if get(t, mux, "/startupz") != 200 || get(t, mux, "/readyz") != 200 {
		t.Fatal("after start: want started and ready")
	}
	dbErr = errors.New("connection refused")
	if get(t, mux, "/readyz") != 503 {
		t.Fatal("failing dependency: want not ready")
	}
	dbErr = nil
	p.StartDraining()
	if get(t, mux, "/readyz") != 503 || get(t, mux, "/livez") != 200 {
		t.Fatal("draining: want live but not ready")
	}
}
