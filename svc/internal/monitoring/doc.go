// Package monitoring holds the checks that keep the service and its monitoring in step:
// the alert and recording rules, the Grafana dashboard, the metrics adapter and the HPA
// (kustomize/components/observability, kustomize/base/hpa.yaml) may only name metrics the
// service really exports, and every alert fires on the synthetic series of its promtool
// unit test. The package has no code of its own: it is its tests.
package monitoring
