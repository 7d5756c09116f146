package fxrates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
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
	// OnRetry is told about each failed attempt that will be retried.
	OnRetry func(attempt int, err error, wait time.Duration)
}

// statusError is a non-200 answer.
type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("source answered HTTP %d", e.code) }

// retryable: network errors and time-outs, 429 and 5xx. Other 4xx mean the request is
// wrong (bad URL, bad key) and will stay wrong.
func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code == http.StatusTooManyRequests || se.code >= 500
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
		backoff := f.BaseBackoff << (attempt - 1)
		if backoff > f.MaxBackoff || backoff <= 0 {
			backoff = f.MaxBackoff
		}
		wait := time.Duration(rand.Int64N(int64(backoff)) + 1)
		if f.OnRetry != nil {
			f.OnRetry(attempt, err, wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	return nil, fmt.Errorf("fetching %s: %w", f.URL, last)
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
		return nil, &statusError{code: resp.StatusCode}
	}
	// One byte over the limit tells a too-large document from one exactly at it.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, err // a body cut off mid-way is a network failure: retry
	}
	return body, nil
}
