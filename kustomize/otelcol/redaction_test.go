package otelcol

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/otelcol/otelcoltest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
)

// runPipeline builds the traces pipeline's processors exactly as collector.yaml
// configures and orders them, feeds td through them, shuts them down (the batch
// processor flushes) and returns what reached the exporter's place.
func runPipeline(t *testing.T, td ptrace.Traces) []ptrace.Traces {
	t.Helper()
	deploymentEnv(t)
	f := factories(t)
	cfg, err := otelcoltest.LoadConfigAndValidate(config, f)
	if err != nil {
		t.Fatal(err)
	}
	ids := cfg.Service.Pipelines[pipeline.NewID(pipeline.SignalTraces)].Processors
	if len(ids) == 0 {
		t.Fatal("the traces pipeline has no processors")
	}
	sink := new(consumertest.TracesSink)
	var next consumer.Traces = sink
	var chain []processor.Traces
	for i := len(ids) - 1; i >= 0; i-- {
		set := processortest.NewNopSettings()
		set.ID = ids[i]
		p, err := f.Processors[ids[i].Type()].CreateTraces(context.Background(), set, cfg.Processors[ids[i]], next)
		if err != nil {
			t.Fatalf("%s: %v", ids[i], err)
		}
		chain = append([]processor.Traces{p}, chain...)
		next = p
	}
	ctx := context.Background()
	for i, p := range chain {
		if err := p.Start(ctx, componenttest.NewNopHost()); err != nil {
			t.Fatalf("start %s: %v", ids[i], err)
		}
	}
	if err := next.ConsumeTraces(ctx, td); err != nil {
		t.Fatal(err)
	}
	for i, p := range chain {
		if err := p.Shutdown(ctx); err != nil {
			t.Fatalf("shutdown %s: %v", ids[i], err)
		}
	}
	return sink.AllTraces()
}

func withCheckDigit(prefix string) string {
	for d := '0'; d <= '9'; d++ {
		if luhnValid(prefix + string(d)) {
			return prefix + string(d)
		}
	}
	panic("unreachable")
}

func luhnValid(digits string) bool {
	sum := 0
	for i := 0; i < len(digits); i++ {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// spans returns every span of the traces, in order.
func spans(all []ptrace.Traces) []ptrace.Span {
	var out []ptrace.Span
	for _, td := range all {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			ss := td.ResourceSpans().At(i).ScopeSpans()
			for j := 0; j < ss.Len(); j++ {
				for k := 0; k < ss.At(j).Spans().Len(); k++ {
					out = append(out, ss.At(j).Spans().At(k))
				}
			}
		}
	}
	return out
}

// A span carrying card numbers everywhere an instrumentation or a bug could put them
// leaves the pipeline without any; the rest of it is unchanged.
func TestCollectorRedactsCardDataFromSpans(t *testing.T) {
	const visa, r = "4111111111111111", "[PAN REDACTED]"
	mc := withCheckDigit("555555555555444")
	uatp := withCheckDigit("12345678901234") // 15 digits, starts with 1
	stmt := "SELECT 1 FROM cards WHERE pan = '" + visa + "'"
	sum := sha256.Sum256([]byte(stmt))

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "transaction-validator")
	rs.Resource().Attributes().PutStr("debug.note", "started with card "+visa)
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	sp.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	sp.SetName("GET /cards/" + visa)
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("pan 4111-1111-1111-1111 rejected")
	a := sp.Attributes()
	a.PutEmptySlice("http.request.header.authorization").AppendEmpty().SetStr("Bearer s3cr3t")
	a.PutEmptySlice("http.request.header.idempotency-key").AppendEmpty().SetStr("k-" + visa)
	a.PutEmptySlice("http.response.header.set-cookie").AppendEmpty().SetStr("session=abc")
	a.PutStr("card.number", visa)
	a.PutStr("card.brand", "visa")
	a.PutStr("pan", visa)
	a.PutStr("url.query", "pan="+visa)
	a.PutStr("url.full", "https://api.example.com/api/validate?pan="+visa+"#x")
	a.PutStr("url.path", "/api/validate")
	a.PutStr("db.statement", stmt)
	a.PutStr("error.message", "card 4111 1111 1111 1111 declined.")
	a.PutStr("note", visa+" "+mc+" "+visa)
	a.PutStr("uatp", "ticket "+uatp)
	a.PutInt("http.response.status_code", 402)
	a.PutInt("audit.batch_size", 12)
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception " + mc)
	ev.Attributes().PutStr("exception.message", "invalid card "+mc)
	ev.Attributes().PutStr("exception.type", "*errors.errorString")

	all := runPipeline(t, td)
	out := spans(all)
	if len(all) != 1 || len(out) != 1 {
		t.Fatalf("%d spans out, want 1", len(out))
	}
	got := out[0]
	wantAttrs := map[string]any{
		"url.full":                  "https://api.example.com/api/validate",
		"url.path":                  "/api/validate",
		"db.statement":              hex.EncodeToString(sum[:]),
		"error.message":             "card " + r + " declined.",
		"note":                      r + " " + r + " " + r,
		"uatp":                      "ticket " + r,
		"http.response.status_code": int64(402),
		"audit.batch_size":          int64(12),
	}
	if raw := got.Attributes().AsRaw(); !reflect.DeepEqual(raw, wantAttrs) {
		t.Errorf("span attributes:\n got %v\nwant %v", raw, wantAttrs)
	}
	if got.Name() != "GET /cards/"+r {
		t.Errorf("span name %q", got.Name())
	}
	if got.Status().Message() != "pan "+r+" rejected" || got.Status().Code() != ptrace.StatusCodeError {
		t.Errorf("status %v %q", got.Status().Code(), got.Status().Message())
	}
	if got.Events().Len() != 1 {
		t.Fatalf("%d events", got.Events().Len())
	}
	e := got.Events().At(0)
	if e.Name() != "exception "+r || !reflect.DeepEqual(e.Attributes().AsRaw(), map[string]any{
		"exception.message": "invalid card " + r, "exception.type": "*errors.errorString"}) {
		t.Errorf("event %q %v", e.Name(), e.Attributes().AsRaw())
	}
	res := all[0].ResourceSpans().At(0).Resource().Attributes().AsRaw()
	if !reflect.DeepEqual(res, map[string]any{"service.name": "transaction-validator", "debug.note": "started with card " + r}) {
		t.Errorf("resource attributes %v", res)
	}
	// Independently of the expectations above: no planted number survives anywhere.
	js, err := (&ptrace.JSONMarshaler{}).MarshalTraces(all[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, pan := range []string{visa, mc, uatp, "4111 1111 1111 1111", "4111-1111-1111-1111"} {
		if strings.Contains(string(js), pan) {
			t.Errorf("%s left in the exported data: %s", pan, js)
		}
	}
}

// What looks like a card number but is not, in the attributes the service and its
// libraries do set, passes untouched: UUIDv7 request ids (the validator's generator,
// seeded), hex digests, epoch timestamps in ms/us/ns, dates, and short numbers.
func TestCollectorLeavesIdsAndTimestampsAlone(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	td := ptrace.NewTraces()
	spansIn := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	var want []map[string]any
	now := time.Now()
	for i := 0; i < 2000; i++ {
		id, err := uuid.NewV7FromReader(rnd)
		if err != nil {
			t.Fatal(err)
		}
		digest := make([]byte, 32)
		rnd.Read(digest)
		at := now.Add(-time.Duration(i) * time.Millisecond)
		attrs := map[string]any{
			"request.id":   id.String(),
			"upstream.id":  strings.ToUpper(id.String()),
			"sha256":       hex.EncodeToString(digest),
			"timestamps":   strconv.FormatInt(at.UnixMilli(), 10) + " " + strconv.FormatInt(at.UnixMicro(), 10) + " " + strconv.FormatInt(at.UnixNano(), 10),
			"message":      "request " + id.String() + " at " + at.UTC().Format(time.RFC3339Nano),
			"amount_minor": "1999",
		}
		sp := spansIn.AppendEmpty()
		sp.SetName("POST /api/validate")
		if err := sp.Attributes().FromRaw(attrs); err != nil {
			t.Fatal(err)
		}
		want = append(want, attrs)
	}
	out := spans(runPipeline(t, td))
	if len(out) != len(want) {
		t.Fatalf("%d spans out of %d", len(out), len(want))
	}
	bad := 0
	for i, sp := range out {
		if got := sp.Attributes().AsRaw(); !reflect.DeepEqual(got, want[i]) {
			if bad++; bad <= 5 {
				t.Errorf("span %d changed:\n got %v\nwant %v", i, got, want[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d spans changed", bad, len(out))
	}
}
