package kustomize

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Identifiers and clocks are made of digits too, and one random digit run in ten passes
// the Luhn check. These tests feed the PAN filter what the workloads really log next to
// card-free data: the validator's UUIDv7 request ids (made by the same generator,
// uuid.NewV7), SHA-256 hex digests (the FX-rates ETL's "sha256"), and epoch timestamps in
// ms, us and ns, including the ETL's Embedded Metric Format line, whose _aws.Timestamp
// must stay a number or CloudWatch drops the metrics.

// naiveHits counts the strings in which the plain rule (any 13-19 digits joined by single
// spaces or dashes, Luhn-valid, wherever they stand: leftoverPANs) finds a "PAN". It
// shows that the test data really contains the digit runs the filter must leave alone,
// so the tests below can fail.
func naiveHits(values []string) int {
	n := 0
	for _, v := range values {
		if len(leftoverPANs(v)) > 0 {
			n++
		}
	}
	return n
}

// seededUUIDv7s makes n UUIDv7s with the generator the validator uses, from a seeded
// source of randomness (the time part is the real clock), so a failure reproduces.
func seededUUIDv7s(t *testing.T, n int) []string {
	t.Helper()
	r := rand.New(rand.NewSource(19))
	out := make([]string, n)
	for i := range out {
		id, err := uuid.NewV7FromReader(r)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = id.String()
	}
	return out
}

// assertUntouched runs the records through the filter and requires return code 0 (Fluent
// Bit keeps the original record) for each.
func assertUntouched(t *testing.T, lua string, recs []map[string]any) {
	t.Helper()
	bad := 0
	for i, f := range runFilter(t, lua, recs) {
		if f.code != 0 || !reflect.DeepEqual(normalize(f.record), normalize(recs[i])) {
			if bad++; bad <= 5 {
				t.Errorf("record %d changed (code %d):\n got %v\nwant %v", i, f.code, f.record, recs[i])
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d records changed in all, of %d", bad, len(recs))
	}
}

// 20 000 UUIDv7s, as the decision line's request_id, inside a message, upper-cased, and in
// an array: not one digit is touched.
func TestRedactPANLeavesUUIDv7sAlone(t *testing.T) {
	lua := luaEngine(t)
	ids := seededUUIDv7s(t, 20000)
	if hits := naiveHits(ids); hits < 10 {
		t.Fatalf("only %d of %d UUIDs contain a Luhn-valid digit run: the data cannot show the bug", hits, len(ids))
	} else {
		t.Logf("%d of %d UUIDv7s contain a Luhn-valid 13-19 digit run (%.2f%%)", hits, len(ids), 100*float64(hits)/float64(len(ids)))
	}
	decision := serviceRecords(t)[2]
	var recs []map[string]any
	for i := 0; i < len(ids); i += 10 {
		r := clone(t, decision)
		r["request_id"] = ids[i]
		r["msg"] = "request " + ids[i+1] + " replayed as " + ids[i+2] + "."
		r["upstream_id"] = strings.ToUpper(ids[i+3])
		r["related"] = []any{ids[i+4], ids[i+5] + " " + ids[i+6], ids[i+7] + "-" + ids[i+8]}
		r[ids[i+9]] = "a key"
		recs = append(recs, r)
	}
	assertUntouched(t, lua, recs)
}

// SHA-256 digests and W3C trace/span ids are hex: their digit runs are glued to letters.
func TestRedactPANLeavesHexDigestsAlone(t *testing.T) {
	lua := luaEngine(t)
	r := rand.New(rand.NewSource(23))
	var digests []string
	for len(digests) < 5000 {
		b := make([]byte, 32)
		r.Read(b)
		digests = append(digests, fmt.Sprintf("%x", b))
	}
	if hits := naiveHits(digests); hits < 10 {
		t.Fatalf("only %d digests contain a Luhn-valid digit run", hits)
	}
	base := serviceRecords(t)[2]
	var recs []map[string]any
	for i := 0; i < len(digests); i += 2 {
		rec := clone(t, base)
		rec["sha256"] = digests[i]
		rec["trace_id"] = digests[i+1][:32]
		rec["span_id"] = digests[i+1][32:48]
		recs = append(recs, rec)
	}
	assertUntouched(t, lua, recs)
}

// luhnValidTimes returns n consecutive-ish instants before now whose ms, us or ns epoch
// value (per unit) passes the Luhn check: the ones the plain rule would redact.
func luhnValidTimes(n int, unit func(time.Time) int64) []int64 {
	var out []int64
	for at := time.Now(); len(out) < n; at = at.Add(-time.Millisecond) {
		if v := unit(at); luhnValid(strconv.FormatInt(v, 10)) {
			out = append(out, v)
		}
	}
	return out
}

// emfRecord is the FX-rates ETL's summary line (svc/internal/fxrates/job.go, emit) at
// instant ms, as the kubernetes filter hands it over.
func emfRecord(t *testing.T, ms int64, durationMs int64) map[string]any {
	t.Helper()
	line := fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"fx rates run","service":"fx-rates-etl",`+
		`"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Namespace":"TransactionValidator/FxRatesEtl",`+
		`"Dimensions":[["Outcome"]],"Metrics":[{"Name":"RunSucceeded","Unit":"Count"},`+
		`{"Name":"RatesPublished","Unit":"Count"},{"Name":"DurationMs","Unit":"Milliseconds"}]}]},`+
		`"Outcome":"written","RunSucceeded":1,"RatesPublished":31,"DurationMs":%d,"date":"2026-11-23",`+
		`"key":"rates/2026-11-23.json","sha256":"9623269ae391a908f79af12daf2f0c47a1225178a59535e335cec3ec2bd08c69"}`,
		time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), ms, durationMs)
	r := decodeJSON(t, line)
	r["stream"] = "stderr"
	r["_p"] = "F"
	r["kubernetes"] = map[string]any{"namespace_name": "transaction-validator", "container_name": "fx-rates-etl"}
	return r
}

// The ETL's EMF line at real instants whose millisecond timestamp passes Luhn: the line is
// unchanged, _aws.Timestamp stays a number. So do ms/us timestamps as numbers and ms/us/ns
// ones in text elsewhere.
func TestRedactPANLeavesTimestampsAndEMFAlone(t *testing.T) {
	lua := luaEngine(t)
	ms := luhnValidTimes(200, time.Time.UnixMilli)
	us := luhnValidTimes(200, time.Time.UnixMicro)
	ns := luhnValidTimes(200, time.Time.UnixNano)
	var recs []map[string]any
	for i := range ms {
		r := emfRecord(t, ms[i], 1834)
		recs = append(recs, r)
		plain := clone(t, serviceRecords(t)[1])
		plain["started_ms"] = json.Number(strconv.FormatInt(ms[i], 10))
		plain["started_us"] = json.Number(strconv.FormatInt(us[i], 10))
		plain["note"] = fmt.Sprintf("slow tick at %d ms (%d us, %d ns)", ms[i], us[i], ns[i])
		recs = append(recs, plain)
	}
	assertUntouched(t, lua, recs)
}

// EMF's numbers are spared, nothing else is: a PAN-shaped number under an undeclared key
// of the same EMF line, or in one of its strings, is redacted; the declared metric's value
// and _aws.Timestamp are not (CloudWatch would drop them as strings).
func TestRedactPANSparesOnlyEMFNumbers(t *testing.T) {
	lua := luaEngine(t)
	const pan = "4111111111111111"
	ms := luhnValidTimes(1, time.Time.UnixMilli)[0]
	in := emfRecord(t, ms, 4222222222222) // absurd, but a declared metric's value
	if !luhnValid("4222222222222") {
		t.Fatal("test data: the metric value must look like a PAN")
	}
	in["card"] = json.Number(pan)
	in["error"] = "declined " + pan
	in["_aws"].(map[string]any)["LogGroupName"] = "oops " + pan
	want := clone(t, in)
	want["card"] = "[PAN REDACTED]"
	want["error"] = "declined [PAN REDACTED]"
	want["_aws"].(map[string]any)["LogGroupName"] = "oops [PAN REDACTED]"
	want["pan_redacted"] = true

	// Not EMF (no _aws): the same number under the same key is a PAN.
	notEMF := clone(t, in)
	delete(notEMF, "_aws")
	delete(notEMF, "card")
	delete(notEMF, "error")
	wantNotEMF := clone(t, notEMF)
	wantNotEMF["DurationMs"] = "[PAN REDACTED]"
	wantNotEMF["pan_redacted"] = true

	got := runFilter(t, lua, []map[string]any{in, notEMF})
	for i, w := range []map[string]any{want, wantNotEMF} {
		if got[i].code != 2 || !reflect.DeepEqual(normalize(got[i].record), normalize(w)) {
			t.Errorf("record %d: code %d\n got %v\nwant %v", i, got[i].code, got[i].record, w)
		}
	}
	ts, ok := got[0].record["_aws"].(map[string]any)["Timestamp"].(json.Number)
	if !ok || ts.String() != strconv.FormatInt(ms, 10) {
		t.Errorf("_aws.Timestamp = %#v, want the number %d", got[0].record["_aws"].(map[string]any)["Timestamp"], ms)
	}
}

// Card numbers next to ids and clocks are still found, and what the rules exclude is
// exactly what they say: digits glued to letters or a decimal point, a leading 1 unless 15
// digits long (UATP).
func TestRedactPANBoundaries(t *testing.T) {
	lua := luaEngine(t)
	id := seededUUIDv7s(t, 1)[0]
	uatp := withCheckDigit("12345678901234") // 15 digits, starts with 1
	ms13 := strconv.FormatInt(luhnValidTimes(1, time.Time.UnixMilli)[0], 10)
	const r = "[PAN REDACTED]"
	cases := []struct{ in, want string }{
		{"request " + id + " card 4111111111111111", "request " + id + " card " + r},
		{id + " 4111 1111 1111 1111", id + " " + r},
		{"4111-1111-1111-1111-" + id, r + "-" + id},
		{"card=4111111111111111.", "card=" + r + "."},
		{"(4111111111111111)", "(" + r + ")"},
		{"uatp " + uatp, "uatp " + r},
		{"ts " + ms13 + " pan 4111111111111111", "ts " + ms13 + " pan " + r},
		// Not PANs by the rules: glued to a word or a decimal point.
		{"x4111111111111111", "x4111111111111111"},
		{"4111111111111111ab", "4111111111111111ab"},
		{"id_4111111111111111", "id_4111111111111111"},
		{"3.4111111111111111", "3.4111111111111111"},
		{"4111111111111111.25", "4111111111111111.25"},
		// A glued first group does not hide the groups after it.
		{"ab12 4111 1111 1111 1111", "ab12 " + r},
	}
	var recs []map[string]any
	for _, c := range cases {
		recs = append(recs, map[string]any{"log": c.in})
	}
	for i, f := range runFilter(t, lua, recs) {
		if f.record["log"] != cases[i].want {
			t.Errorf("%q -> %q, want %q", cases[i].in, f.record["log"], cases[i].want)
		}
		if wantCode := map[bool]int{true: 0, false: 2}[cases[i].in == cases[i].want]; f.code != wantCode {
			t.Errorf("%q: code %d, want %d", cases[i].in, f.code, wantCode)
		}
	}
}
