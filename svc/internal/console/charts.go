package console

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The charts are drawn on the server as SVG and shown as images: no script, no charting
// library, nothing the page's Content-Security-Policy has to allow. Their numbers are
// also served as JSON (/console/api/stats), which the page shows as tables: the text
// alternative of each chart.

// MaxChartRange is the longest range a chart covers: at the audit log's 10-million-rows-
// a-month density, a week is ~2.3 million rows to count.
const MaxChartRange = 7 * 24 * time.Hour

// chartBuckets is about how many bars the decisions chart has.
const chartBuckets = 60

// bucketSteps are the bar widths a chart may use, the smallest giving at most
// chartBuckets bars over the range.
var bucketSteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// BucketFor is the bar width of a range.
func BucketFor(r time.Duration) time.Duration {
	for _, s := range bucketSteps {
		if r <= s*chartBuckets {
			return s
		}
	}
	return bucketSteps[len(bucketSteps)-1]
}

// Bucket is one bar: the real decisions (test transactions left out) decided in
// [Start, Start+bucket).
type Bucket struct {
	Start   time.Time `json:"start"`
	Approve int64     `json:"approve"`
	Review  int64     `json:"review"`
	Decline int64     `json:"decline"`
}

// ReasonCount is how many real decisions in the range gave a reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// Stats are the numbers behind the charts.
type Stats struct {
	From          time.Time     `json:"from"`
	To            time.Time     `json:"to"`
	BucketSeconds int64         `json:"bucket_seconds"`
	Buckets       []Bucket      `json:"buckets"`
	TopReasons    []ReasonCount `json:"top_reasons"`
}

// TopReasonsShown is how many reasons the reasons chart lists.
const TopReasonsShown = 8

// Every bucket of the range, empty ones included (a gap is "no decisions", drawn as
// such), counted from the (decided_at, request_id) index.
const bucketsSQL = `
SELECT date_bin($3::interval, decided_at, $1::timestamptz) AS b,
       count(*) FILTER (WHERE decision = 'approve'),
       count(*) FILTER (WHERE decision = 'review'),
       count(*) FILTER (WHERE decision = 'decline')
FROM audit_decisions
WHERE decided_at >= $1 AND decided_at < $2 AND NOT test
GROUP BY b ORDER BY b`

const reasonsSQL = `
SELECT r, count(*) FROM audit_decisions, unnest(reasons) AS r
WHERE decided_at >= $1 AND decided_at < $2 AND NOT test
GROUP BY r ORDER BY count(*) DESC, r LIMIT $3`

// LoadStats counts the real decisions of [from, to) by bucket and outcome, and their
// most frequent reasons.
func LoadStats(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, from, to time.Time) (Stats, error) {
	step := BucketFor(to.Sub(from))
	st := Stats{From: from, To: to, BucketSeconds: int64(step / time.Second), Buckets: []Bucket{}, TopReasons: []ReasonCount{}}
	rows, err := db.Query(ctx, bucketsSQL, from, to, step)
	if err != nil {
		return Stats{}, err
	}
	got := map[int64]Bucket{}
	for rows.Next() {
		var b Bucket
		if err := rows.Scan(&b.Start, &b.Approve, &b.Review, &b.Decline); err != nil {
			rows.Close()
			return Stats{}, err
		}
		got[b.Start.Unix()] = b
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Stats{}, err
	}
	for t := from; t.Before(to); t = t.Add(step) {
		b, ok := got[t.Unix()]
		if !ok {
			b = Bucket{}
		}
		b.Start = t.UTC()
		st.Buckets = append(st.Buckets, b)
	}
	rows, err = db.Query(ctx, reasonsSQL, from, to, TopReasonsShown)
	if err != nil {
		return Stats{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var r ReasonCount
		if err := rows.Scan(&r.Reason, &r.Count); err != nil {
			return Stats{}, err
		}
		st.TopReasons = append(st.TopReasons, r)
	}
	return st, rows.Err()
}

// Outcome colours: the page's own (app.css), dark enough for 3:1 against white (WCAG
// 1.4.11); the legend names each, so colour is never the only cue.
var outcomeColours = []struct{ name, fill string }{
	{"approve", "#15803d"}, {"review", "#b45309"}, {"decline", "#b91c1c"},
}

const (
	chartW, chartH           = 640, 220
	padL, padR, padT, padB   = 48, 8, 28, 28
	reasonsW, reasonBarH     = 640, 22
	reasonsLabelW, reasonsPT = 200, 8
)

// svgOpen starts an image with its accessible name and description: an <img> gets its
// alt from the page, and the SVG opened on its own still says what it shows.
func svgOpen(b *strings.Builder, w, h int, title, desc string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="t d" font-family="system-ui, sans-serif" font-size="12">`, w, h, w, h)
	fmt.Fprintf(b, `<title id="t">%s</title><desc id="d">%s</desc><rect width="%d" height="%d" fill="#ffffff"/>`,
		html.EscapeString(title), html.EscapeString(desc), w, h)
}

// DecisionsSVG draws the decisions over time as stacked bars, one per bucket.
func DecisionsSVG(st Stats) string {
	var total, peak int64
	for _, b := range st.Buckets {
		n := b.Approve + b.Review + b.Decline
		total += n
		peak = max(peak, n)
	}
	step := time.Duration(st.BucketSeconds) * time.Second
	var b strings.Builder
	svgOpen(&b, chartW, chartH, "Decisions over time by outcome",
		fmt.Sprintf("%d real decisions from %s to %s, in bars of %s; the table below the chart has the numbers.",
			total, st.From.UTC().Format(time.RFC3339), st.To.UTC().Format(time.RFC3339), step))
	// Legend.
	x := padL
	for _, c := range outcomeColours {
		fmt.Fprintf(&b, `<rect x="%d" y="8" width="12" height="12" fill="%s"/><text x="%d" y="18" fill="#1d2733">%s</text>`, x, c.fill, x+16, c.name)
		x += 90
	}
	plotH := chartH - padT - padB
	top := niceCeil(peak)
	// Axis: zero and the top value, and the range's ends.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#56636f"/>`, padL, chartH-padB, chartW-padR, chartH-padB)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#1d2733">0</text>`, padL-4, chartH-padB)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#1d2733">%d</text>`, padL-4, padT+10, top)
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#1d2733">%s</text>`, padL, chartH-8, st.From.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#1d2733">%s</text>`, chartW-padR, chartH-8, st.To.UTC().Format("2006-01-02 15:04 MST"))
	if n := len(st.Buckets); n > 0 && top > 0 {
		slot := float64(chartW-padL-padR) / float64(n)
		for i, bk := range st.Buckets {
			y := float64(chartH - padB)
			for j, v := range []int64{bk.Approve, bk.Review, bk.Decline} {
				if v == 0 {
					continue
				}
				h := float64(v) / float64(top) * float64(plotH)
				y -= h
				fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %d</title></rect>`,
					float64(padL)+float64(i)*slot+0.5, y, max(slot-1, 0.5), h, outcomeColours[j].fill,
					bk.Start.UTC().Format("2006-01-02 15:04 MST"), outcomeColours[j].name, v)
			}
		}
	}
	if total == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#1d2733">No real decisions in this range.</text>`, chartW/2, chartH/2)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// ReasonsSVG draws the most frequent reasons as horizontal bars.
func ReasonsSVG(st Stats) string {
	h := reasonsPT*2 + max(len(st.TopReasons), 1)*reasonBarH
	var b strings.Builder
	desc := "No reasons were given in this range."
	if len(st.TopReasons) > 0 {
		parts := make([]string, len(st.TopReasons))
		for i, r := range st.TopReasons {
			parts[i] = r.Reason + " " + strconv.FormatInt(r.Count, 10)
		}
		desc = "Most frequent reasons, most first: " + strings.Join(parts, ", ") + "."
	}
	svgOpen(&b, reasonsW, h, "Top reasons", desc)
	var peak int64
	for _, r := range st.TopReasons {
		peak = max(peak, r.Count)
	}
	for i, r := range st.TopReasons {
		y := reasonsPT + i*reasonBarH
		w := float64(r.Count) / float64(peak) * float64(reasonsW-reasonsLabelW-60)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#1d2733">%s</text>`, reasonsLabelW-6, y+15, html.EscapeString(r.Reason))
		fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%d" width="%.1f" height="%d" fill="#b91c1c"><title>%s: %d</title></rect>`,
			reasonsLabelW, y+3, max(w, 1), reasonBarH-6, html.EscapeString(r.Reason), r.Count)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#1d2733">%d</text>`, float64(reasonsLabelW)+max(w, 1)+4, y+15, r.Count)
	}
	if len(st.TopReasons) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#1d2733">%s</text>`, 8, reasonsPT+15, desc)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// niceCeil rounds a bar's height scale up to 1, 2 or 5 times a power of ten.
func niceCeil(v int64) int64 {
	if v <= 0 {
		return 0
	}
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
	}
}

// chartRange reads from/to as the search does, and refuses ranges longer than
// MaxChartRange.
func (s *Server) chartRange(w http.ResponseWriter, r *http.Request) (from, to time.Time, ok bool) {
	q, err := ParseSearch(r.URL.Query(), s.Now())
	var fe *FieldError
	if errors.As(err, &fe) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{
			"code": "invalid_search", "field": fe.Field, "message": fe.Message}})
		return from, to, false
	}
	if q.To.Sub(q.From) > MaxChartRange {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{
			"code": "invalid_search", "field": "from", "message": "charts cover at most 7 days"}})
		return from, to, false
	}
	return q.From, q.To, true
}

func (s *Server) loadStats(w http.ResponseWriter, r *http.Request) (Stats, bool) {
	from, to, ok := s.chartRange(w, r)
	if !ok {
		return Stats{}, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st, err := LoadStats(ctx, s.Audit, from, to)
	if err != nil {
		s.Log.Warn("stats query failed", "error", err)
		consoleError(w, http.StatusServiceUnavailable, "audit_unavailable", "the audit database did not answer")
		return Stats{}, false
	}
	return st, true
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	if st, ok := s.loadStats(w, r); ok {
		writeJSON(w, http.StatusOK, st)
	}
}

func (s *Server) chart(draw func(Stats) string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st, ok := s.loadStats(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = w.Write([]byte(draw(st)))
	}
}
