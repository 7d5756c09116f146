package monitoring_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

const observability = "../../../kustomize/components/observability"

// ownMetric matches the names of metrics this service exports (not kube-state-metrics').
var ownMetric = regexp.MustCompile(`\b(txv_[a-z0-9_]+|pgxpool_[a-z0-9_]+)\b`)

// adapterMetric is produced by prometheus-adapter from txv_validate_requests_total, not
// by the service.
const adapterMetric = "txv_validate_requests_per_second"

// referenced returns every own metric name used by the rules, the dashboard, the adapter
// rules and the HPA, with where each is used.
func referenced(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, f := range []string{"prometheusrule.yaml", "grafana-dashboard.json", "prometheus-adapter-rules.yaml", "../../base/hpa.yaml"} {
		raw, err := os.ReadFile(filepath.Join(observability, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue // comments may name metrics in prose
			}
			for _, m := range ownMetric.FindAllString(line, -1) {
				out[m] = append(out[m], f)
			}
		}
	}
	return out
}

// missing returns the referenced names absent from an exposition. A histogram family
// is exported under its _bucket, _sum and _count series, which queries name.
func missing(refs map[string][]string, exposition string) []string {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(exposition))
	if err != nil {
		return []string{"unparseable exposition: " + err.Error()}
	}
	exported := map[string]bool{}
	for name, f := range families {
		exported[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				exported[name+suffix] = true
			}
		}
	}
	var out []string
	for name, where := range refs {
		if name != adapterMetric && !exported[name] {
			out = append(out, fmt.Sprintf("%s (used in %s)", name, strings.Join(where, ", ")))
		}
	}
	sort.Strings(out)
	return out
}

// TestEveryMonitoredMetricIsExported runs the real service on PostgreSQL and Redis,
// makes it answer each kind of request once (labelled series exist only after their
// first observation), and scrapes /metrics.
func TestEveryMonitoredMetricIsExported(t *testing.T) {
	refs := referenced(t)
	if len(refs) < 8 {
		t.Fatalf("only %d metric names found in the monitoring files: the parsing is broken", len(refs))
	}
	if m := missing(map[string][]string{"txv_no_such_metric": {"self-test"}}, "txv_other 1\n"); len(m) != 1 {
		t.Fatal("the check cannot detect a missing metric")
	}

	pg := devtest.Postgres(t, devserver.PostgresOptions{})
	rds := devtest.Redis(t, devserver.RedisOptions{})
	svc := devtest.StartService(t, map[string]string{"DATABASE_URL": pg.URL, "REDIS_ENDPOINT": rds.Endpoint,
		"PAN_HMAC_KEY": strings.Repeat("ef", 32), "SHUTDOWN_DRAIN_DELAY": "0s", "MAX_TRANSACTIONS_PER_SECOND": "2"})

	ts := time.Now().UTC().Format(time.RFC3339)
	for i, pan := range []string{"4111111111111111", "4111111111111112", "4111111111111111", "4111111111111111"} {
		body := fmt.Sprintf(`{"merchant_id":"m","amount":100,"currency":"EUR","country":"DE","timestamp":%q,"card":{"number":%q,"expiry_month":1,"expiry_year":2035}}`, ts, pan)
		req, _ := http.NewRequest(http.MethodPost, "http://"+svc.API+"/api/validate", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("mon-%d", i))
		if resp, err := http.DefaultClient.Do(req); err == nil { // approve, decline, then 429s
			resp.Body.Close()
		}
	}
	resp, err := http.Get("http://" + svc.Metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := missing(refs, string(raw)); len(m) > 0 {
		t.Fatalf("monitoring refers to metrics the service does not export:\n  %s", strings.Join(m, "\n  "))
	}
}

// TestHPAUsesTheAdapterMetric: the HPA's custom metric is the one the adapter rule makes.
func TestHPAUsesTheAdapterMetric(t *testing.T) {
	refs := referenced(t)
	where := strings.Join(refs[adapterMetric], " ")
	if !strings.Contains(where, "hpa.yaml") || !strings.Contains(where, "prometheus-adapter-rules.yaml") {
		t.Fatalf("%s must be named by both the HPA and the adapter rules; found in: %s", adapterMetric, where)
	}
}

func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL_BIN"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	matches, _ := filepath.Glob(filepath.Join(home, ".cache/promtool-*/bin/promtool"))
	if len(matches) > 0 {
		return matches[len(matches)-1]
	}
	if os.Getenv("TXV_REQUIRE_SERVERS") == "1" {
		t.Fatal("promtool not built (scripts/suites/10-service.sh builds it)")
	}
	t.Skip("skipping: promtool not built; run scripts/test.sh")
	return ""
}

// TestRulesWithPromtool extracts the PrometheusRule's groups into a plain rule file and
// runs the real promtool on it: `check rules` (syntax, PromQL, naming) and `test rules`
// (each alert fires on its synthetic series, and stays quiet when healthy).
func TestRulesWithPromtool(t *testing.T) {
	bin := promtool(t)
	raw, err := os.ReadFile(filepath.Join(observability, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Spec struct {
			Groups []any `yaml:"groups"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(raw, &pr); err != nil || len(pr.Spec.Groups) == 0 {
		t.Fatalf("PrometheusRule: %v", err)
	}
	dir := t.TempDir()
	rules, _ := yaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(observability, "prometheusrule.test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tests.yaml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "tests.yaml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
}
