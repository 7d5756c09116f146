package kustomize

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The Fluent Bit Lua filter (components/logging/redact-pan.lua) run by a real Lua engine:
// LuaJIT, which Fluent Bit embeds, or PUC Lua 5.1 (the dialect LuaJIT implements). Fluent
// Bit itself is not packaged for Debian and is a C build with its own toolchain, so the
// rest of its pipeline is not run here (components/logging/README.md says what is not).
//
// Records are what Fluent Bit hands the filter after the tail input's cri multiline parser
// and the kubernetes filter with Merge_Log: the service's JSON fields at the top level,
// "stream" and "_p" from the CRI line, and a "kubernetes" map. The service's lines are
// testdata/logging/service-stdout.log, the stdout of a real run of the service
// (go run ./svc/cmd/transaction-validator, three validations and a malformed request).

const redactScript = "components/logging/redact-pan.lua"

// luaEngine finds a Lua interpreter. Like svc/internal/testsupport/devserver/devtest: a missing one
// skips the test with the install hint, except under TXV_REQUIRE_SERVERS=1 (scripts/test.sh,
// CI), where it fails, so CI can never skip this silently.
func luaEngine(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"luajit", "lua5.1"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Lua engine (luajit or lua5.1) on PATH; apt-get install luajit (scripts/suites/30-manifests.sh installs it)"
	if os.Getenv("TXV_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg)
	}
	t.Skip("skipping: " + msg)
	return ""
}

// luaLiteral writes v (decoded with UseNumber) as a Lua table constructor.
func luaLiteral(b *strings.Builder, v any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("{")
		for _, k := range keys {
			b.WriteString("[")
			luaString(b, k)
			b.WriteString("]=")
			luaLiteral(b, x[k])
			b.WriteString(",")
		}
		b.WriteString("}")
	case []any:
		b.WriteString("{")
		for _, item := range x {
			luaLiteral(b, item)
			b.WriteString(",")
		}
		b.WriteString("}")
	case string:
		luaString(b, x)
	case json.Number:
		b.WriteString(x.String())
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case nil:
		b.WriteString("nil")
	default:
		panic(fmt.Sprintf("unexpected %T", v))
	}
}

func luaString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 32 || c >= 127:
			fmt.Fprintf(b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// The driver prints, per record, the filter's return code and the record as JSON (with a
// serializer of its own: Lua 5.1 has no JSON). Integers print without a fraction.
const luaDriver = `
local function enc(v)
  local t = type(v)
  if t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
  elseif t == "number" then
    if v == math.floor(v) then return string.format("%.0f", v) end
    return string.format("%.17g", v)
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "table" then
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    if n > 0 and n == #v then
      local parts = {}
      for i = 1, #v do parts[i] = enc(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = enc(k) .. ":" .. enc(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return "null"
end
for i, rec in ipairs(RECORDS) do
  local code, ts, out = redact_pan("kube.var.log.containers.x.log", 1700000000.5, rec)
  io.write(code, " ", enc(out), "\n")
end
`

type filtered struct {
	code   int
	record map[string]any
}

// runFilter passes records through redact_pan in one Lua process.
func runFilter(t *testing.T, lua string, records []map[string]any) []filtered {
	t.Helper()
	var b strings.Builder
	b.WriteString("RECORDS = {\n")
	for _, r := range records {
		luaLiteral(&b, r)
		b.WriteString(",\n")
	}
	b.WriteString("}\n")
	dir := t.TempDir()
	data := filepath.Join(dir, "records.lua")
	driver := filepath.Join(dir, "driver.lua")
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(driver, []byte(luaDriver), 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(redactScript)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(lua, "-e", fmt.Sprintf("dofile(%q); dofile(%q); dofile(%q)", script, data, driver))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", lua, err, stderr.String())
	}
	var res []filtered
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		code, js, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("driver printed %q", sc.Text())
		}
		var f filtered
		f.code, _ = strconv.Atoi(code)
		d := json.NewDecoder(strings.NewReader(js))
		d.UseNumber()
		if err := d.Decode(&f.record); err != nil {
			t.Fatalf("driver JSON %q: %v", js, err)
		}
		res = append(res, f)
	}
	if len(res) != len(records) {
		t.Fatalf("filter returned %d records for %d", len(res), len(records))
	}
	return res
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return m
}

// serviceRecords are the captured service lines as the kubernetes filter emits them.
func serviceRecords(t *testing.T) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile("testdata/logging/service-stdout.log")
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		r := decodeJSON(t, line)
		r["stream"] = "stdout"
		r["_p"] = "F"
		r["kubernetes"] = map[string]any{
			"pod_name":       "transaction-validator-7d9f8b6c5d-x2x9k",
			"namespace_name": "transaction-validator",
			"container_name": "transaction-validator",
			"pod_id":         "0b6f2c8e-5d1a-4c3b-9e7f-1a2b3c4d5e6f",
			"host":           "ip-10-30-1-17.eu-central-1.compute.internal",
			"container_hash": "000000000000.dkr.ecr.eu-central-1.amazonaws.com/transaction-validator@sha256:9623269ae391a908f79af12daf2f0c47a1225178a59535e335cec3ec2bd08c69",
		}
		recs = append(recs, r)
	}
	if len(recs) < 5 {
		t.Fatalf("only %d captured service lines", len(recs))
	}
	return recs
}

func clone(t *testing.T, r map[string]any) map[string]any {
	t.Helper()
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return decodeJSON(t, string(js))
}

// normalize makes a record comparable after the Lua round trip, which cannot keep an
// empty array apart from an empty map (Fluent Bit's type_array_key handles "reasons").
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return []any{}
		}
		m := map[string]any{}
		for k, item := range x {
			m[k] = normalize(item)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = normalize(item)
		}
		return out
	}
	return v
}

// The service's own lines carry no PAN (it logs brand and last four): they must pass
// through untouched (return code 0, so Fluent Bit keeps the original record).
func TestRedactPANLeavesServiceLinesAlone(t *testing.T) {
	lua := luaEngine(t)
	recs := serviceRecords(t)
	for i, f := range runFilter(t, lua, recs) {
		if f.code != 0 {
			t.Errorf("line %d: return code %d, want 0 (unchanged): %v", i+1, f.code, f.record)
		}
		if !reflect.DeepEqual(normalize(f.record), normalize(recs[i])) {
			t.Errorf("line %d changed:\n got %v\nwant %v", i+1, f.record, recs[i])
		}
	}
}

// luhnValid computes the Luhn check in Go, independently of the Lua code.
func luhnValid(digits string) bool {
	sum := 0
	for i := 0; i < len(digits); i++ {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// withCheckDigit completes a test PAN prefix with its Luhn check digit.
func withCheckDigit(prefix string) string {
	for d := '0'; d <= '9'; d++ {
		if luhnValid(prefix + string(d)) {
			return prefix + string(d)
		}
	}
	panic("unreachable")
}

var (
	digitRun = regexp.MustCompile(`[0-9]+(?:[ -][0-9]+)*`)
	groupSep = regexp.MustCompile(`[ -]`)
)

// leftoverPANs lists every card-number-like value left in v by the rule the filter
// implements (consecutive digit groups, joined by single spaces or dashes, 13-19 digits in
// all, Luhn-valid), scanned here in Go, independently of the Lua code.
func leftoverPANs(v any) []string {
	var found []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, item := range x {
				walk(k)
				walk(item)
			}
		case []any:
			for _, item := range x {
				walk(item)
			}
		case json.Number:
			walk(x.String())
		case string:
			for _, run := range digitRun.FindAllString(x, -1) {
				groups := groupSep.Split(run, -1)
				for a := range groups {
					digits := ""
					for b := a; b < len(groups); b++ {
						digits += groups[b]
						if len(digits) > 19 {
							break
						}
						if len(digits) >= 13 && luhnValid(digits) {
							found = append(found, strings.Join(groups[a:b+1], " "))
						}
					}
				}
			}
		}
	}
	walk(v)
	return found
}

// Card numbers planted into real service lines, wherever a bug could put one, are
// redacted; the rest of each record is exactly what it was.
func TestRedactPANRemovesPlantedCardNumbers(t *testing.T) {
	lua := luaEngine(t)
	recs := serviceRecords(t)
	decision := recs[2] // a "decision" line: request_id, merchant, amount, brand, last4
	if decision["msg"] != "decision" {
		t.Fatalf("testdata line 3 is not a decision line: %v", decision)
	}
	visa := "4111111111111111"
	mc := withCheckDigit("555555555555444")      // 16 digits
	amex := withCheckDigit("37828224631000")     // 15 digits
	long := withCheckDigit("601100099013942400") // 19 digits
	short := withCheckDigit("422222222222")      // 13 digits
	notLuhn := "4111 1111 1111 1112"             // fails the check: left alone
	if luhnValid("4111111111111112") {
		t.Fatal("test data: the near miss passes Luhn")
	}
	const r = "[PAN REDACTED]"
	cases := []struct {
		name  string
		plant func(m map[string]any)
		want  func(m map[string]any) // the expected record, from the unplanted one
	}{
		{"spaced PAN inside the message",
			func(m map[string]any) { m["msg"] = "card 4111 1111 1111 1111 declined by issuer" },
			func(m map[string]any) { m["msg"] = "card " + r + " declined by issuer" }},
		{"dashed PAN as a field of its own",
			func(m map[string]any) { m["card_number"] = mc[:4] + "-" + mc[4:8] + "-" + mc[8:12] + "-" + mc[12:] },
			func(m map[string]any) { m["card_number"] = r }},
		{"PAN as a JSON number",
			func(m map[string]any) { m["pan"] = json.Number(visa) },
			func(m map[string]any) { m["pan"] = r }},
		{"two PANs in one string, 15 and 19 digits",
			func(m map[string]any) { m["error"] = "retry " + amex + " then " + long },
			func(m map[string]any) { m["error"] = "retry " + r + " then " + r }},
		{"13-digit PAN nested in a map and an array",
			func(m map[string]any) {
				m["request"] = map[string]any{"card": map[string]any{"number": short}, "history": []any{"ok", "4111 1111 1111 1111"}}
			},
			func(m map[string]any) {
				m["request"] = map[string]any{"card": map[string]any{"number": r}, "history": []any{"ok", r}}
			}},
		{"PAN as a key is dropped",
			func(m map[string]any) { m[visa] = "seen" },
			func(m map[string]any) {}},
		{"PAN in a non-JSON stderr line (log kept by Merge_Log)",
			func(m map[string]any) {
				for k := range m {
					if k != "kubernetes" && k != "_p" {
						delete(m, k)
					}
				}
				m["stream"] = "stderr"
				m["log"] = "panic: unexpected card=" + visa + "\n"
			},
			func(m map[string]any) {
				for k := range m {
					if k != "kubernetes" && k != "_p" {
						delete(m, k)
					}
				}
				m["stream"] = "stderr"
				m["log"] = "panic: unexpected card=" + r + "\n"
			}},
	}
	var planted, expected []map[string]any
	for _, c := range cases {
		p, w := clone(t, decision), clone(t, decision)
		c.plant(p)
		c.want(w)
		w["pan_redacted"] = true
		planted = append(planted, p)
		expected = append(expected, w)
	}
	// Near misses must survive: a Luhn failure, 12 digits, a 23-digit id, dates, and
	// the service's own identifiers (already in the record).
	near := clone(t, decision)
	near["note"] = notLuhn + " / 123456789012 / id 12345678901234567890123 / 2026-11-23 10:15:00"
	planted = append(planted, near)
	expected = append(expected, clone(t, near))

	got := runFilter(t, lua, planted)
	for i, f := range got {
		name := "near misses"
		if i < len(cases) {
			name = cases[i].name
		}
		wantCode := 2
		if i == len(cases) {
			wantCode = 0
		}
		if f.code != wantCode {
			t.Errorf("%s: return code %d, want %d", name, f.code, wantCode)
		}
		if !reflect.DeepEqual(normalize(f.record), normalize(expected[i])) {
			t.Errorf("%s:\n got %v\nwant %v", name, f.record, expected[i])
		}
		if i < len(cases) {
			if left := leftoverPANs(f.record); len(left) > 0 {
				t.Errorf("%s: card numbers left in the output: %v", name, left)
			}
		}
	}
	// The Go scan really finds what it must (so "no leftovers" above means something).
	if left := leftoverPANs(planted[0]); len(left) != 1 {
		t.Errorf("the Go scan found %v in the planted message, want one PAN", left)
	}
}

// The configuration wires the filter in: after the kubernetes filter (so merged JSON
// fields are scanned), before the only output, calling the function the script defines.
func TestFluentBitConfigOrder(t *testing.T) {
	raw, err := os.ReadFile("components/logging/fluent-bit.conf")
	if err != nil {
		t.Fatal(err)
	}
	var sections []map[string]string
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			sections = append(sections, map[string]string{"section": strings.Trim(line, "[]")})
		default:
			k, v, _ := strings.Cut(line, " ")
			sections[len(sections)-1][strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	var order []string
	for _, s := range sections {
		order = append(order, s["section"]+":"+s["name"])
	}
	want := []string{"SERVICE:", "INPUT:tail", "FILTER:kubernetes", "FILTER:lua", "OUTPUT:cloudwatch_logs"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("pipeline is %v, want %v", order, want)
	}
	in, k8s, luaf, out := sections[1], sections[2], sections[3], sections[4]
	if in["multiline.parser"] != "cri" {
		t.Errorf("tail must use the cri multiline parser (joins containerd's partial lines), has %q", in["multiline.parser"])
	}
	if k8s["merge_log"] != "On" {
		t.Errorf("kubernetes filter must merge the JSON log into the record")
	}
	if luaf["script"] != "/fluent-bit/etc/redact-pan.lua" || luaf["call"] != "redact_pan" || luaf["match"] != in["tag"] {
		t.Errorf("lua filter must call redact_pan from the mounted script on every record: %v", luaf)
	}
	if out["match"] != in["tag"] || out["log_group_name"] != "${LOG_GROUP_NAME}" || out["auto_create_group"] != "Off" {
		t.Errorf("output must ship the same tag to the Terraform-created log group without creating groups: %v", out)
	}
	script, err := os.ReadFile(redactScript)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "function redact_pan(tag, timestamp, record)") {
		t.Errorf("%s does not define redact_pan(tag, timestamp, record)", redactScript)
	}
}
