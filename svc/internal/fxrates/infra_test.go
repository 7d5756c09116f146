package fxrates

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The CloudWatch alarms of infra/modules/observability match the job's EMF metrics by
// namespace and Outcome: a renamed namespace or outcome here would leave them watching
// nothing, without any error. This holds the module to what emit writes.
func TestInfraAlarmsMatchTheEMFLine(t *testing.T) {
	vars, err := os.ReadFile("../../../infra/modules/observability/variables.tf")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)variable "etl_metric_namespace" \{.*?default\s*=\s*"([^"]+)"`).FindSubmatch(vars)
	if m == nil {
		t.Fatal("no default of etl_metric_namespace in infra/modules/observability/variables.tf")
	}
	if string(m[1]) != MetricNamespace {
		t.Errorf("infra's etl_metric_namespace default %q, want MetricNamespace %q", m[1], MetricNamespace)
	}
	main, err := os.ReadFile("../../../infra/modules/observability/main.tf")
	if err != nil {
		t.Fatal(err)
	}
	m = regexp.MustCompile(`for outcome in \[([^\]]*)\] : outcome`).FindSubmatch(main)
	if m == nil {
		t.Fatal("no `for outcome in [...]` list in infra/modules/observability/main.tf")
	}
	var infra []string
	for _, o := range strings.Split(string(m[1]), ",") {
		infra = append(infra, strings.Trim(strings.TrimSpace(o), `"`))
	}

	var buf bytes.Buffer
	j := &Job{Log: slog.New(slog.NewJSONHandler(&buf, nil)), Now: time.Now}
	runs := []struct {
		res Result
		err error
	}{
		{Result{Outcome: Outcome{Written: true}}, nil},
		{Result{}, nil},
		{Result{}, errors.New("network")},
		{Result{}, &DataError{Reason: "bad"}},
		{Result{}, &StaleError{Date: "2026-12-03", Due: "2026-12-04"}},
	}
	var emitted []string
	for _, r := range runs {
		buf.Reset()
		j.emit(r.res, r.err, time.Second)
		var line struct {
			Outcome      string
			RunSucceeded int
		}
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("%s: %v", buf.String(), err)
		}
		emitted = append(emitted, line.Outcome)
	}
	slices.Sort(infra)
	slices.Sort(emitted)
	if !slices.Equal(infra, emitted) {
		t.Errorf("infra alarms know outcomes %v, emit writes %v", infra, emitted)
	}
}
