package app_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestTracesReachAnOTLPReceiver points the exporter at a real OTLP/HTTP endpoint on
// loopback and checks that one request yields spans from the HTTP server, PostgreSQL
// and Redis instrumentation.
func TestTracesReachAnOTLPReceiver(t *testing.T) {
	var mu sync.Mutex
	names := map[string]bool{}
	var httpTrace, commitLinks []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names[ss.Scope.GetName()+" "+s.Name] = true
					switch s.Name {
					case "POST /api/validate":
						httpTrace = append(httpTrace, string(s.TraceId))
					case "audit.commit":
						for _, l := range s.Links {
							commitLinks = append(commitLinks, string(l.TraceId))
						}
					}
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	defer receiver.Close()

	// The exporter reads the standard OTEL_* variables from the process environment. The
	// signal-specific ones win over OTEL_EXPORTER_OTLP_ENDPOINT, and a runner may set them
	// for its own telemetry (Dagger does in every container): blank them (empty = unset).
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.URL)
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
		"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_CERTIFICATE",
		"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"} {
		t.Setenv(v, "")
	}
	db, rds := freshDB(t)
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds,
		"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.URL, "TRACE_SAMPLE_RATIO": "1"})
	if a := r.post(t, "trace-1", txn("4111111111111111", 100)); a.Status != 200 {
		t.Fatalf("%d %s", a.Status, a.Raw)
	}
	r.shutdown(t) // flushes the batch span processor

	mu.Lock()
	defer mu.Unlock()
	var all []string
	for n := range names {
		all = append(all, n)
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{"otelhttp POST /api/validate", "otelpgx", "redisotel", "pgstore audit.commit"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no span from %s instrumentation; got:\n%s", want, joined)
		}
	}
	// The batch commit is linked to the request that waited for it.
	if len(httpTrace) != 1 || len(commitLinks) != 1 || httpTrace[0] != commitLinks[0] {
		t.Errorf("audit.commit not linked to the request's trace: %d http spans, links %d", len(httpTrace), len(commitLinks))
	}
}
