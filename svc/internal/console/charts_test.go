package console_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/console"
)

// svgBars parses an SVG document (failing the test if it is not well-formed XML) and
// returns its bars' tooltips, and whether it carries an accessible name.
func svgBars(t *testing.T, doc string) (bars []string, named bool) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	inBar, depth := false, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed SVG: %v\n%s", err, doc)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			depth++
			for _, a := range e.Attr {
				if a.Name.Local == "style" || strings.HasPrefix(a.Name.Local, "on") {
					t.Fatalf("attribute %s: the console's CSP allows no inline style or script", a.Name.Local)
				}
				if e.Name.Local == "svg" && a.Name.Local == "role" && a.Value == "img" {
					named = true
				}
				if e.Name.Local == "rect" && a.Name.Local == "class" && a.Value == "bar" {
					inBar = true
				}
			}
			if e.Name.Local == "script" || e.Name.Local == "foreignObject" {
				t.Fatalf("<%s> in a chart", e.Name.Local)
			}
		case xml.CharData:
			if inBar && strings.TrimSpace(string(e)) != "" {
				bars = append(bars, string(e))
			}
		case xml.EndElement:
			depth--
			if e.Name.Local == "rect" {
				inBar = false
			}
		}
	}
	return bars, named && strings.Contains(doc, "<title id=\"t\">")
}

func TestChartsDrawWhatTheyAreGiven(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	st := console.Stats{From: at, To: at.Add(3 * time.Minute), BucketSeconds: 60, Buckets: []console.Bucket{
		{Start: at, Approve: 10, Review: 0, Decline: 2},
		{Start: at.Add(time.Minute)},
		{Start: at.Add(2 * time.Minute), Approve: 7, Review: 1, Decline: 0},
	}, TopReasons: []console.ReasonCount{{"card_expired", 2}, {`<script>&"`, 1}}}
	bars, named := svgBars(t, console.DecisionsSVG(st))
	want := []string{"2026-12-01 10:00 UTC approve: 10", "2026-12-01 10:00 UTC decline: 2",
		"2026-12-01 10:02 UTC approve: 7", "2026-12-01 10:02 UTC review: 1"}
	if !named || strings.Join(bars, "|") != strings.Join(want, "|") {
		t.Fatalf("decisions chart: named %v, bars %q, want %q", named, bars, want)
	}
	svg := console.ReasonsSVG(st)
	bars, named = svgBars(t, svg)
	if !named || len(bars) != 2 || bars[0] != "card_expired: 2" || bars[1] != `<script>&": 1` {
		t.Fatalf("reasons chart: named %v, bars %q", named, bars)
	}
	if !strings.Contains(svg, "Most frequent reasons, most first: card_expired 2") {
		t.Fatalf("reasons chart has no description:\n%s", svg)
	}
	empty := console.Stats{From: at, To: at.Add(time.Hour), BucketSeconds: 60}
	if bars, _ := svgBars(t, console.DecisionsSVG(empty)); len(bars) != 0 || !strings.Contains(console.DecisionsSVG(empty), "No real decisions in this range.") {
		t.Fatalf("an empty range must say so, not draw zeros: %q", bars)
	}
}

func TestBucketFor(t *testing.T) {
	for r, want := range map[time.Duration]time.Duration{
		15 * time.Minute: time.Minute, time.Hour: time.Minute, 61 * time.Minute: 5 * time.Minute,
		24 * time.Hour: 30 * time.Minute, 7 * 24 * time.Hour: 3 * time.Hour, 90 * 24 * time.Hour: 24 * time.Hour,
	} {
		if got := console.BucketFor(r); got != want {
			t.Errorf("BucketFor(%s) = %s, want %s", r, got, want)
		}
	}
}

// The charts count real decisions of the range, as the same SQL run directly does,
// leave test transactions out, and are served as SVG under the console's CSP.
func TestChartsOnTheAuditLog(t *testing.T) {
	sc := startSearchConsole(t, 3000)
	from, to := sc.start.Add(500*time.Second), sc.start.Add(2900*time.Second)
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode()
	var st console.Stats
	if code := sc.get(t, "/console/api/stats?"+q, &st); code != 200 {
		t.Fatalf("stats: %d", code)
	}
	// 40 minutes in bars of one minute.
	if st.BucketSeconds != 60 || len(st.Buckets) != 40 || !st.Buckets[0].Start.Equal(from) {
		t.Fatalf("buckets: %d of %d s from %v", len(st.Buckets), st.BucketSeconds, st.Buckets[0].Start)
	}
	got := map[string]int64{}
	for _, b := range st.Buckets {
		got["approve"] += b.Approve
		got["review"] += b.Review
		got["decline"] += b.Decline
	}
	for _, d := range []string{"approve", "review", "decline"} {
		var want, withTests int64
		if err := sc.admin.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE NOT test), count(*) FROM audit_decisions
			WHERE decided_at >= $1 AND decided_at < $2 AND decision = $3`, from, to, d).Scan(&want, &withTests); err != nil {
			t.Fatal(err)
		}
		if got[d] != want || want == 0 {
			t.Errorf("%s: %d in the chart, %d real decisions", d, got[d], want)
		}
		// Rows 1000 and 2000 are test declines: the chart must not count them.
		if d == "decline" && withTests != want+2 {
			t.Errorf("the generated range should hold 2 test declines: %d vs %d", withTests, want)
		}
	}
	var expired int64
	_ = sc.admin.QueryRow(context.Background(), `SELECT count(*) FROM audit_decisions WHERE decided_at >= $1 AND decided_at < $2
		AND NOT test AND 'card_expired' = ANY (reasons)`, from, to).Scan(&expired)
	if len(st.TopReasons) != 2 || st.TopReasons[0] != (console.ReasonCount{Reason: "card_expired", Count: expired}) ||
		st.TopReasons[1].Reason != "merchant_limit_exceeded" {
		t.Fatalf("top reasons %+v, want card_expired %d first", st.TopReasons, expired)
	}

	for _, chart := range []string{"decisions", "reasons"} {
		resp := do(t, "GET", sc.url+"/console/charts/"+chart+".svg?"+q, sc.viewer, "")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("%s chart: %d %v", chart, resp.StatusCode, resp.Header)
		}
		if bars, named := svgBars(t, string(body)); !named || len(bars) == 0 {
			t.Fatalf("%s chart: named %v, %d bars", chart, named, len(bars))
		}
	}
	// A range too long to count quickly is refused, naming the field.
	var e struct{ Error struct{ Code, Field string } }
	long := url.Values{"from": {sc.start.Add(-8 * 24 * time.Hour).Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode()
	if code := sc.get(t, "/console/api/stats?"+long, &e); code != 400 || e.Error.Field != "from" {
		t.Fatalf("8-day range: %d %+v", code, e)
	}
	if !strings.Contains(sc.log.String(), `"action":"chart"`) || !strings.Contains(sc.log.String(), `"action":"stats"`) {
		t.Fatalf("chart views are not audited:\n%s", sc.log.String())
	}
}
