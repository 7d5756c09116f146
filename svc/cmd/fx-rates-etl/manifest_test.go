package main

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/transaction-validator/transaction-validator/svc/internal/fxrates"
)

// The CronJob's podFailurePolicy fails the Job at once on exactly the exit codes that a
// new pod would repeat. kustomize/etl_test.go checks the rendered manifests against
// exit.go from the other side; this test fails first when a code is renumbered here.
func TestCronJobFailsTheJobOnTheseExitCodes(t *testing.T) {
	raw, err := os.ReadFile("../../../kustomize/components/fx-rates-etl/cronjob.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cj struct {
		Spec struct {
			JobTemplate struct {
				Spec struct {
					PodFailurePolicy struct {
						Rules []struct {
							Action      string
							OnExitCodes *struct {
								ContainerName string `yaml:"containerName"`
								Operator      string
								Values        []int
							} `yaml:"onExitCodes"`
						}
					} `yaml:"podFailurePolicy"`
				}
			} `yaml:"jobTemplate"`
		}
	}
	if err := yaml.Unmarshal(raw, &cj); err != nil {
		t.Fatal(err)
	}
	var failJob []int
	for _, r := range cj.Spec.JobTemplate.Spec.PodFailurePolicy.Rules {
		if r.OnExitCodes != nil && r.Action == "FailJob" && r.OnExitCodes.Operator == "In" &&
			r.OnExitCodes.ContainerName == "fx-rates-etl" {
			failJob = append(failJob, r.OnExitCodes.Values...)
		}
	}
	slices.Sort(failJob)
	want := []int{fxrates.ExitConfig, fxrates.ExitRejected, fxrates.ExitStale}
	slices.Sort(want)
	if !slices.Equal(failJob, want) {
		t.Fatalf("podFailurePolicy fails the Job on exit codes %v; fxrates declares %v (config, rejected, stale)", failJob, want)
	}
}
