package fxrates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Fetcher downloads the source document, retrying what a retry can fix.
type Fetcher struct {
	Client      *http.Client
	URL         string
	APIKey      string // sent as a bearer token when set (the ECB needs none)
	MaxAttempts int
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxRetryAfter is the longest Retry-After (on 429 or 503) the fetcher honours; a
	// source asking for longer, or for a wait past ctx's deadline, ends the fetch.
	MaxRetryAfter time.Duration
	// OnRetry is told about each failed attempt that will be retried.
	OnRetry func(attempt int, err error, wait time.Duration)
	// Now and Wait are the clock (nil: the real one); tests replace them.
	Now  func() time.Time
	Wait func(ctx context.Context, d time.Duration) error
}

// How the job authenticates to its source (FX_SOURCE_AUTH).
const (
	AuthNone   = "none"
	AuthBearer = "bearer"
)

// insecureURLError is a source URL, or a redirect, that is not HTTPS. Not retried.
type insecureURLError struct{ url string }

func (e *insecureURLError) Error() string {
	return fmt.Sprintf("%s: must be https:// (http:// only to 127.0.0.1, ::1 or localhost, for tests)", e.url)
}

// checkSourceURL accepts https:// URLs, and http:// ones only to a loopback host: a test's
// server on this machine, where nothing crosses a network. Anything else would carry the
// rates (and an API key, if one is sent) in clear text.
func checkSourceURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch h := u.Hostname(); {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (h == "localhost" || h == "127.0.0.1" || h == "::1"):
		return nil
	}
	return &insecureURLError{url: u.Redacted()}
}

// sourceClient is the HTTP client for the source: timeout per attempt, and redirects
// held to the same rule as the configured URL, so a redirect cannot downgrade to plain
// HTTP (Go's client keeps the Authorization header on a redirect to the same host).
func sourceClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return checkSourceURL(req.URL.String())
		},
	}
}

// statusError is a non-200 answer, with its Retry-After header if any.
type statusError struct {
	code       int
	retryAfter string
}

func (e *statusError) Error() string { return fmt.Sprintf("source answered HTTP %d", e.code) }

// retryAfter returns the wait a 429 or 503 answer asks for, in either of RFC 9110's forms
// (delta-seconds or an HTTP-date); ok is false when there is none or it is unreadable,
// and the fetcher's own back-off applies.
func retryAfter(err error, now time.Time) (d time.Duration, ok bool) {
	var se *statusError
	if !errors.As(err, &se) || se.retryAfter == "" ||
		(se.code != http.StatusTooManyRequests && se.code != http.StatusServiceUnavailable) {
		return 0, false
	}
	v := strings.TrimSpace(se.retryAfter)
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// retryable: network errors and time-outs, 429 and 5xx. Other 4xx mean the request is
// wrong (bad URL, bad key) and will stay wrong.
func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code == http.StatusTooManyRequests || se.code >= 500
	}
	var ie *insecureURLError
	if errors.As(err, &ie) {
		return false
	}
	return !errors.Is(err, context.Canceled)
}

// Fetch returns the body of the first successful attempt, with exponential back-off
// and full jitter between attempts.
func (f *Fetcher) Fetch(ctx context.Context) ([]byte, error) {
	var last error
	for attempt := 1; attempt <= f.MaxAttempts; attempt++ {
		body, err := f.once(ctx)
		if err == nil {
			return body, nil
		}
		last = err
		if !retryable(err) || attempt == f.MaxAttempts {
			break
		}
		wait, asked := retryAfter(err, f.now())
		if asked {
			// The source said when to come back: sooner would only be refused again, so
			// wait exactly that, or give up if it is longer than this run may wait.
			if wait > f.MaxRetryAfter {
				return nil, fmt.Errorf("fetching %s: %w; it asks to retry after %s, more than the %s allowed",
					f.URL, err, wait, f.MaxRetryAfter)
			}
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
				return nil, fmt.Errorf("fetching %s: %w; it asks to retry after %s, past the run's deadline",
					f.URL, err, wait)
			}
		} else {
			backoff := f.BaseBackoff << (attempt - 1)
			if backoff > f.MaxBackoff || backoff <= 0 {
				backoff = f.MaxBackoff
			}
			wait = time.Duration(rand.Int64N(int64(backoff)) + 1)
		}
		if f.OnRetry != nil {
			f.OnRetry(attempt, err, wait)
		}
		if err := f.wait(ctx, wait); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("fetching %s: %w", f.URL, last)
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Fetcher) wait(ctx context.Context, d time.Duration) error {
	if f.Wait != nil {
		return f.Wait(ctx, d)
	}
	return sleep(ctx, d)
}

func (f *Fetcher) once(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/xml, text/xml")
	if f.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+f.APIKey)
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &statusError{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	}
	// One byte over the limit tells a too-large document from one exactly at it.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, err // a body cut off mid-way is a network failure: retry
	}
	return body, nil
}
