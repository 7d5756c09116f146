#!/usr/bin/env bash
# Suite 21: `tofu init` (from the tofu image's offline provider mirror), `tofu validate` and
# `tofu test` (mock_provider "aws") for every module under infra/modules, the environments'
# root (once per environment: tests/<env>.tftest.hcl with <env>.tfvars) and the bootstrap
# root. One implementation: the pipeline's validate stage (ci/tofucheck.go), which also
# runs kubeconform and the Go tests of the modules but the root (suite 30); this suite calls
# it on the offline engine (suite 50's `ci` then finds its steps in the engine's cache:
# docs/pipeline.md, "What a change re-runs").
set -euo pipefail
exec "$(dirname "$0")/../pipeline-call.sh" validate
