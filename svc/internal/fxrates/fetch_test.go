package fxrates

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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
		default:
			// "CODE RETRY-AFTER": a 429 or 503 with that Retry-After header.
			code, after, _ := strings.Cut(step, " ")
			w.Header().Set("Retry-After", after)
			w.WriteHeader(map[string]int{"429": http.StatusTooManyRequests, "503": http.StatusServiceUnavailable}[code])
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

// clock is a fixed time and a Wait that records what it was asked to sleep, sleeping not.
type clock struct {
	now   time.Time
	waits []time.Duration
}

func (c *clock) wait(ctx context.Context, d time.Duration) error {
	c.waits = append(c.waits, d)
	return ctx.Err()
}

func retryAfterFetcher(url string, c *clock) *Fetcher {
	f := fetcher(url)
	f.MaxRetryAfter, f.Now, f.Wait = time.Minute, func() time.Time { return c.now }, c.wait
	return f
}

// A 429 or 503 with Retry-After is retried after exactly the wait asked for, in seconds or
// as an HTTP-date; one with an unreadable header falls back to the fetcher's back-off.
func TestFetchHonoursRetryAfter(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 23, 16, 15, 0, 0, time.UTC)}
	in30s := c.now.Add(30 * time.Second).Format(http.TimeFormat)
	past := c.now.Add(-time.Hour).Format(http.TimeFormat)
	srv, n := script(t, "429 7", "503 "+in30s, "429 0", "503 "+past, "429 soon", "ok")
	f := retryAfterFetcher(srv.URL, c)
	f.MaxAttempts = 6
	body, err := f.Fetch(context.Background())
	if err != nil || n.Load() != 6 || len(body) == 0 {
		t.Fatalf("after %d attempts: %v", n.Load(), err)
	}
	want := []time.Duration{7 * time.Second, 30 * time.Second, 0, 0}
	if !slices.Equal(c.waits[:4], want) {
		t.Fatalf("waits %v, want %v then a back-off", c.waits, want)
	}
	if b := c.waits[4]; b <= 0 || b > 10*time.Millisecond {
		t.Fatalf("unreadable Retry-After: waited %s, want the back-off (<= 10ms)", b)
	}
}

// A Retry-After longer than MaxRetryAfter, or past the run's deadline, ends the fetch at
// once with an error saying so, instead of sleeping into a time-out.
func TestFetchRetryAfterIsBounded(t *testing.T) {
	c := &clock{now: time.Date(2026, 11, 23, 16, 15, 0, 0, time.UTC)}
	srv, n := script(t, "429 3600", "ok")
	_, err := retryAfterFetcher(srv.URL, c).Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "retry after 1h0m0s, more than the 1m0s allowed") || n.Load() != 1 || len(c.waits) != 0 {
		t.Fatalf("after %d attempts, waits %v: %v", n.Load(), c.waits, err)
	}
	c.waits = nil
	srv, n = script(t, "503 "+c.now.Add(50*time.Second).Format(http.TimeFormat), "ok")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = retryAfterFetcher(srv.URL, c).Fetch(ctx)
	if err == nil || !strings.Contains(err.Error(), "past the run's deadline") || n.Load() != 1 || len(c.waits) != 0 {
		t.Fatalf("after %d attempts, waits %v: %v", n.Load(), c.waits, err)
	}
}

// A redirect from the source to plain HTTP elsewhere is refused before any request is
// made (the API key would follow it in clear text), and not retried.
func TestFetchRefusesARedirectToPlainHTTP(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Redirect(w, r, "http://fx.example.invalid/eurofxref-daily.xml", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	f := fetcher(srv.URL)
	f.Client, f.APIKey = sourceClient(time.Second), "secret"
	_, err := f.Fetch(context.Background())
	var ie *insecureURLError
	if !errors.As(err, &ie) || n.Load() != 1 || !strings.Contains(err.Error(), "http://fx.example.invalid") {
		t.Fatalf("after %d requests: %v", n.Load(), err)
	}
}
