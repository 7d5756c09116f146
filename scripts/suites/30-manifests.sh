#!/usr/bin/env bash
# Suite 30: the Kubernetes manifests in kustomize/, checked offline by the pipeline's
# stages (one implementation, ci/validate.go and ci/scan.go), called on the offline engine:
#   validate: every overlay builds with the pinned kustomize and its example Terraform
#     outputs, and not without them; kubeconform -strict against the offline schemas (the
#     overlays and kustomize/deployer-rbac), and a misspelt copy must be rejected; the Go
#     tests of every module but the root: kustomize/ (rules, mutation tests, the Fluent Bit
#     PAN filter on LuaJIT, which must not skip), kustomize/otelcol (the collector's config
#     loaded by its own code), airgap/k8sschema, ...; tofu init/validate/test (suite 21);
#   scan: trivy config on the rendered manifests with kustomize/.trivyignore.yaml, gated on
#     HIGH/CRITICAL (the pipeline's one severity rule, ci/scan.go), every overlay a target
#     and a writable root filesystem flagged; trivy on infra/ and secrets, govulncheck,
#     gitleaks on the tree and the git history (ci/secrets.go).
# Suite 50's `dagger call ci` then finds both stages in the engine's cache.
set -euo pipefail
here=$(dirname "$0")
"$here/../pipeline-call.sh" validate
exec "$here/../pipeline-call.sh" scan
