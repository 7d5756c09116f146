package canary

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
)

// Sample is the live canary's gate. The canary runs beside the stable version behind
// the same Service, so traffic sent to the Service reaches it only in its share. Sample
// sends synthetic transactions (test cards, the canary-probe merchant) to the Service in
// batches of batch, reading the canary pods' own metrics pages (metricsURLs) after each
// batch, until those pages count at least t.MinRequests requests, and judges the canary
// by them alone. It never sends more than probe.Requests in all, nor past ctx's
// deadline: a canary that does not get its sample by then fails the gate (too few
// requests counted) instead of being promoted on no evidence.
//
// What the probe saw from the client's side (Report.Probe) is reported but not judged:
// through a Service it mixes the stable pods' answers with the canary's.
func Sample(ctx context.Context, probe Probe, batch int, metricsURLs []string, t Thresholds) (Report, error) {
	if len(metricsURLs) == 0 {
		return Report{}, errors.New("canary: no metrics page of a canary pod to judge")
	}
	if probe.Requests <= 0 || probe.Requests > maxProbeRequests {
		return Report{}, fmt.Errorf("canary: requests must be 1..%d, got %d", maxProbeRequests, probe.Requests)
	}
	if batch <= 0 {
		return Report{}, fmt.Errorf("canary: batch must be positive, got %d", batch)
	}
	// A new pod's NetworkPolicy rules reach the enforcer a moment after it starts (kube-router,
	// the VPC CNI's policy agent alike), so the gate's first connections may be refused:
	// the first read is retried for a while before it counts as a failure.
	if err := waitReachable(ctx, metricsURLs, startupGrace); err != nil {
		return Report{}, err
	}
	var seen ProbeResult
	for ctx.Err() == nil {
		pages, err := fetchAll(ctx, metricsURLs)
		if err != nil {
			if ctx.Err() != nil {
				break // the deadline: judged below on what the pages count by then
			}
			return Report{}, err
		}
		// Before its first request the validator exports no request series at all, so a
		// page that cannot be judged yet means "no sample yet"; the judgement after the
		// loop still fails on a page that never becomes one (the wrong port).
		r, err := analyzePages(pages, t)
		if (err == nil && r.Requests >= float64(t.MinRequests)) || seen.Sent >= probe.Requests {
			break
		}
		p := probe
		p.First = probe.First + seen.Sent
		p.Requests = min(batch, probe.Requests-seen.Sent)
		got, err := p.Run(ctx)
		seen.Sent += got.Sent
		seen.Unanswered += got.Unanswered
		seen.ServerErrors += got.ServerErrors
		if err != nil && ctx.Err() == nil {
			return Report{}, err
		}
		if got.Sent == 0 { // the deadline passed before the batch started
			break
		}
	}
	// A last read: the final batch's requests are on the pages only now.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
	defer cancel()
	pages, err := fetchAll(fctx, metricsURLs)
	if err != nil {
		return Report{}, err
	}
	r, err := analyzePages(pages, t)
	if errors.Is(err, errNoRequestSeries) && seen.Sent > 0 {
		r = Report{Probe: seen, Reasons: []string{fmt.Sprintf("no request reached the canary: its metrics count none after %d sent through the Service", seen.Sent)}}
		return r, fmt.Errorf("%w: %s", ErrUnhealthy, r.Reasons[0])
	}
	if err != nil {
		return r, err
	}
	r.Probe = seen
	if !r.Healthy {
		return r, fmt.Errorf("%w: %s", ErrUnhealthy, strings.Join(r.Reasons, "; "))
	}
	return r, nil
}

// startupGrace is how long the gate retries its first read of the canary's metrics.
var startupGrace = 30 * time.Second

// waitReachable polls the metrics pages until all answer, for at most grace.
func waitReachable(ctx context.Context, urls []string, grace time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	for {
		_, err := fetchAll(wctx, urls)
		if err == nil {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("canary: metrics not reachable within %s: %w", grace, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// probeTimeout bounds one HTTP exchange of the gate.
const probeTimeout = 5 * time.Second

func analyzePages(pages []string, t Thresholds) (Report, error) {
	readers := make([]io.Reader, len(pages))
	for i, p := range pages {
		readers[i] = strings.NewReader(p)
	}
	return AnalyzeAll(readers, ProbeResult{}, t)
}

func fetchAll(ctx context.Context, urls []string) ([]string, error) {
	pages := make([]string, 0, len(urls))
	for _, u := range urls {
		page, err := fetchMetrics(ctx, u)
		if err != nil {
			return nil, err
		}
		pages = append(pages, page)
	}
	return pages, nil
}

// fetchMetrics reads one /metrics page in the text format.
func fetchMetrics(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	client := &http.Client{Timeout: probeTimeout}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("canary: fetch metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("canary: fetch metrics %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return "", fmt.Errorf("canary: fetch metrics %s: %w", url, err)
	}
	return string(body), nil
}
