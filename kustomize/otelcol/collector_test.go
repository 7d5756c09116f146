// Package otelcol validates components/tracing/collector.yaml with the real OpenTelemetry
// Collector code: the same component factories the contrib image ships (otlp receiver,
// memory_limiter, attributes, transform and batch processors, awsxray exporter,
// health_check extension), at the version of that image (0.120.0), loaded and validated
// the way `otelcol validate` does; redaction_test.go runs the configured processors.
// Its own module: the collector's dependency graph stays out of the manifests' tests.
package otelcol

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/awsxrayexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/attributesprocessor"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/otelcol/otelcoltest"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
)

const config = "../components/tracing/collector.yaml"

func factories(t *testing.T) otelcol.Factories {
	t.Helper()
	var f otelcol.Factories
	var err error
	if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory()); err != nil {
		t.Fatal(err)
	}
	if f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](memorylimiterprocessor.NewFactory(),
		attributesprocessor.NewFactory(), transformprocessor.NewFactory(), batchprocessor.NewFactory()); err != nil {
		t.Fatal(err)
	}
	if f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](awsxrayexporter.NewFactory()); err != nil {
		t.Fatal(err)
	}
	if f.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](healthcheckextension.NewFactory()); err != nil {
		t.Fatal(err)
	}
	return f
}

// The Deployment's environment, which the config reads with ${env:...}.
func deploymentEnv(t *testing.T) {
	t.Setenv("POD_IP", "10.30.1.17")
	t.Setenv("AWS_REGION", "eu-central-1")
}

func TestCollectorConfigIsValid(t *testing.T) {
	deploymentEnv(t)
	cfg, err := otelcoltest.LoadConfigAndValidate(config, factories(t))
	if err != nil {
		t.Fatalf("%s: %v", config, err)
	}
	traces, ok := cfg.Service.Pipelines[pipeline.NewID(pipeline.SignalTraces)]
	if !ok || len(cfg.Service.Pipelines) != 1 {
		t.Fatalf("want exactly one pipeline, traces; have %v", cfg.Service.Pipelines)
	}
	ids := func(l []component.ID) (out []string) {
		for _, id := range l {
			out = append(out, id.String())
		}
		return out
	}
	// memory_limiter first (it must refuse data before anything buffers it), then the
	// redaction (redaction_test.go), no sampling processor (the service samples at the
	// head), X-Ray the only destination.
	for what, pair := range map[string][2][]string{
		"receivers":  {ids(traces.Receivers), {"otlp"}},
		"processors": {ids(traces.Processors), {"memory_limiter", "attributes/redact", "transform/redact", "batch"}},
		"exporters":  {ids(traces.Exporters), {"awsxray"}},
	} {
		if !slices.Equal(pair[0], pair[1]) {
			t.Errorf("traces %s = %v, want %v", what, pair[0], pair[1])
		}
	}
	xr, ok := cfg.Exporters[component.MustNewID("awsxray")].(*awsxrayexporter.Config)
	if !ok {
		t.Fatalf("awsxray exporter config has type %T", cfg.Exporters[component.MustNewID("awsxray")])
	}
	if xr.AWSSessionSettings.Region != "eu-central-1" {
		t.Errorf("awsxray region = %q, want the Deployment's AWS_REGION", xr.AWSSessionSettings.Region)
	}
	otlp, ok := cfg.Receivers[component.MustNewID("otlp")].(*otlpreceiver.Config)
	if !ok || otlp.HTTP == nil || otlp.HTTP.ServerConfig.Endpoint != "10.30.1.17:4318" {
		t.Errorf("OTLP/HTTP must listen on the pod IP, port 4318 (the Service's and the NetworkPolicy's port)")
	}
}

// The validation is strict: an option the exporter does not have, or a pipeline naming a
// component that is not configured, is an error. (It caught sending_queue and
// retry_on_failure on awsxray, which that exporter does not take.)
func TestCollectorValidationIsStrict(t *testing.T) {
	deploymentEnv(t)
	raw, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	for name, broken := range map[string]string{
		"unknown option":   strings.Replace(string(raw), "  awsxray:\n", "  awsxray:\n    sending_queue:\n      queue_size: 10\n", 1),
		"unknown exporter": strings.Replace(string(raw), "exporters: [awsxray]", "exporters: [awsxray, otlp]", 1),
	} {
		if broken == string(raw) {
			t.Fatalf("%s: the mutation did not apply", name)
		}
		p := filepath.Join(t.TempDir(), "collector.yaml")
		if err := os.WriteFile(p, []byte(broken), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := otelcoltest.LoadConfigAndValidate(p, factories(t)); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: rejected: %v", name, err)
		}
	}
}
