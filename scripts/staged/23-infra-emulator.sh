#!/usr/bin/env bash
# Suite 23: infrastructure delivery for real, through the pipeline's functions (ci/infra.go,
# ci/emulator.go) on the offline Dagger engine, against an AWS API emulator: moto_server
# (AWS-managed IAM policies loaded) on 127.0.0.1, passed into the engine as a host service
# (--aws-endpoint tcp://127.0.0.1:PORT). The environment is `local`: infra/envs with dev's
# files, whose AWS is the emulator; what the emulator cannot serve is left out
# (scripts/infra-emulator.exclude, each entry with the API it lacks). Steps, timed:
#   1. dagger call bootstrap: the state bucket, read back (versioned, KMS-encrypted);
#   2. dagger call plan: plan.txt, plan.json, tfplan.sha256, and plan-whole.json (nothing
#      left out: the M of "applied N of M planned");
#   3. dagger call apply: a plan whose SHA-256 is not the approved one is refused; the
#      approved one is applied; while it holds the state lock, a second apply
#      (--lock-timeout 0s) is refused by it; apply's own second plan must show no change
#      outside the modules the emulator does not round-trip;
#   4. smoke: the resources read back through the AWS API (awscli);
#   5. dagger call plan --destroy, then destroy of that approved plan: the state is empty.
# Bash is glue here: the delivery logic is the pipeline's; this suite starts the emulator,
# calls the functions and reads the result back. See infra/README.md, "Delivery on an AWS
# API emulator". Timings go to $TXV_EMULATOR_TIMINGS (default: a temp file, printed).
#
# Like suite 50, it needs root (the offline engine); it starts the engine if it is not
# running and stops only what it started.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=/dev/null
. "$REPO_ROOT/airgap/dagger/common.sh"
cd "$REPO_ROOT"

MOTO_VERSION=5.2.1
skip() { printf '\n!!!!! SKIP 23-infra-emulator: %s\n\n' "$*"; exit 3; }
[ "$(id -u)" -eq 0 ] || skip "needs root (the offline Dagger engine); run as root"
command -v aws >/dev/null || die "awscli is required (pip install awscli)"
command -v jq >/dev/null || ensure_apt jq
if ! command -v moto_server >/dev/null; then
  log "installing moto[server]==$MOTO_VERSION"
  python3 -m pip install --quiet "moto[server]==$MOTO_VERSION" >&2 || die "pip install moto[server]==$MOTO_VERSION failed"
fi
have=$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || true)
[ "$have" = "$MOTO_VERSION" ] || die "moto $have is installed; this suite is measured against $MOTO_VERSION"

work=$(mktemp -d "${TMPDIR:-/tmp}/infra-emulator.XXXXXX")
timings=${TXV_EMULATOR_TIMINGS:-$work/timings.txt}
moto_pid='' apply_pid='' engine_started=0
cleanup() {
  local rc=$?
  [ -z "$apply_pid" ] || kill "$apply_pid" 2>/dev/null || true
  [ -z "$moto_pid" ] || { kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null || true; }
  [ $engine_started = 0 ] || airgap/dagger/down.sh >/dev/null 2>&1 || true
  if [ $rc != 0 ]; then
    log "suite 23 failed (exit $rc); its logs are kept in $work"
    find "$work" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
  else
    cat "$timings" >&2
    rm -rf "$work"
  fi
}
trap cleanup EXIT
step() { log "suite 23: $*"; }
timed() { # NAME CMD...: run, record the wall time
  local name=$1 t rc=0; shift; t=$(date +%s)
  "$@" || rc=$?
  printf '%-48s %5d s\n' "$name" $(($(date +%s) - t)) >>"$timings"
  return $rc
}
suite_start=$(date +%s)

airgap/dagger/status.sh >/dev/null 2>&1 || { airgap/dagger/up.sh >&2; engine_started=1; }
# shellcheck source=/dev/null
. "$DAGGER_STATE/client.env"

# ---- the emulator ------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint=http://127.0.0.1:$port
MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 60); do
  curl -fsS "$endpoint/moto-api/data.json" >/dev/null 2>&1 && break
  kill -0 "$moto_pid" 2>/dev/null || { cat "$work/moto.log"; die "moto_server exited"; }
  sleep 0.5
done
curl -fsS "$endpoint/moto-api/data.json" >/dev/null || die "moto_server did not answer on $endpoint"

# Credentials the emulator accepts, for the pipeline (as secrets) and awscli.
export AWS_ACCESS_KEY_ID=emulator AWS_SECRET_ACCESS_KEY=emulator
unset AWS_PROFILE AWS_SESSION_TOKEN
export AWS_REGION=eu-central-1 AWS_DEFAULT_REGION=eu-central-1 AWS_ENDPOINT_URL=$endpoint
awsq() { aws --output json "$@"; }
# dl NAME FUNCTION ARGS...: a pipeline function on the local environment and the emulator,
# its stdout in $work/NAME.out, its log in $work/NAME.log. The shared engine sometimes fails
# to load the module while other clients run theirs ("failed to mount ... invalid
# argument", an overlay mount of a cache volume in use): that, and only that, is retried.
dl() {
  local name=$1 fn=$2 try rc; shift 2
  for try in 1 2 3 4 5 6; do
    rc=0
    dagger --progress=plain call --airgapped "$fn" --env=local --aws-endpoint="tcp://127.0.0.1:$port" \
      --aws-access-key-id=env:AWS_ACCESS_KEY_ID --aws-secret-access-key=env:AWS_SECRET_ACCESS_KEY "$@" \
      >"$work/$name.out" 2>"$work/$name.log" || rc=$?
    [ $rc != 0 ] && grep -q 'failed to mount .*invalid argument' "$work/$name.log" || return $rc
    log "$name: the engine could not mount the module's cache (try $try), again in 20 s"
    cp "$work/$name.log" "$work/$name.mount-$try.log"
    sleep 20
  done
  return $rc
}
bucket=$(sed -n 's/^bucket *= *"\(.*\)"/\1/p' infra/envs/dev.s3.tfbackend)
state_key=$(sed -n 's/^key *= *"\(.*\)"/\1/p' infra/envs/dev.s3.tfbackend)
{ [ -n "$bucket" ] && [ -n "$state_key" ]; } || die "no bucket/key in infra/envs/dev.s3.tfbackend"

# ---- 1. bootstrap ------------------------------------------------------------------------
step "1. dagger call bootstrap (state bucket $bucket)"
timed "bootstrap" dl bootstrap bootstrap export --path="$work/bootstrap.tfstate" ||
  { tail -40 "$work/bootstrap.log"; die "bootstrap failed"; }
awsq s3api get-bucket-encryption --bucket "$bucket" | jq -e '.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm == "aws:kms"' >/dev/null ||
  die "state bucket $bucket is not KMS-encrypted by default"
awsq s3api get-bucket-versioning --bucket "$bucket" | jq -e '.Status == "Enabled"' >/dev/null ||
  die "state bucket $bucket is not versioned"
jq -e '.resources | length > 0' "$work/bootstrap.tfstate" >/dev/null || die "bootstrap returned no state"

# ---- 2. plan -----------------------------------------------------------------------------
step "2. dagger call plan --env local"
timed "plan (whole, then local exclusions)" dl plan plan export --path="$work/plan" ||
  { tail -40 "$work/plan.log"; die "plan failed"; }
for f in tfplan plan.txt plan.json tfplan.sha256 plan-whole.json; do
  [ -s "$work/plan/$f" ] || die "plan did not return $f"
done
creates='[.resource_changes[] | select(.mode == "managed" and (.change.actions | index("create")))] | length'
planned=$(jq "$creates" "$work/plan/plan-whole.json")
to_apply=$(jq "$creates" "$work/plan/plan.json")
approved=$(cat "$work/plan/tfplan.sha256")
log "plan: $to_apply to create of $planned the code asks for; approved SHA-256 $approved"

# ---- 3. apply of the approved plan only, and the lock ------------------------------------
step "3. dagger call apply: a tampered plan is refused"
cp "$work/plan/tfplan" "$work/tampered.tfplan"; printf 'x' >>"$work/tampered.tfplan"
if dl tampered apply --plan="$work/tampered.tfplan" --approved-sha256="$approved"; then
  die "a plan whose SHA-256 differs from the approved one was applied"
fi
grep -q 'refusing to apply: the plan.s SHA-256 is' "$work/tampered.log" ||
  { tail -30 "$work/tampered.log"; die "the tampered plan failed, but not at the digest check"; }
log "the tampered plan was refused by its digest"

step "3. dagger call apply of the approved plan; a concurrent apply must meet the lock"
apply_t0=$(date +%s)
dl apply apply --plan="$work/plan/tfplan" --approved-sha256="$approved" &
apply_pid=$!
# The state lock is the .tflock object next to the state (use_lockfile): once it is there,
# a second apply must be refused at once, not wait.
lock_seen=0
for _ in $(seq 600); do
  if awsq s3api head-object --bucket "$bucket" --key "$state_key.tflock" >/dev/null 2>&1; then lock_seen=1; break; fi
  kill -0 "$apply_pid" 2>/dev/null || break
  sleep 0.5
done
[ $lock_seen = 1 ] || { tail -40 "$work/apply.log"; die "no lock object $state_key.tflock appeared in $bucket during the apply"; }
if dl concurrent apply --plan="$work/plan/tfplan" --approved-sha256="$approved" --lock-timeout=0s; then
  die "a second apply on the state was not refused while the first held the lock"
fi
grep -q 'Error acquiring the state lock' "$work/concurrent.log" ||
  { tail -40 "$work/concurrent.log"; die "the concurrent apply failed, but not on the lock"; }
log "a concurrent apply was refused by the state lock"
apply_rc=0; wait "$apply_pid" || apply_rc=$?; apply_pid=''
printf '%-48s %5d s\n' "apply (approved plan + its second plan)" $(($(date +%s) - apply_t0)) >>"$timings"
[ $apply_rc = 0 ] || { grep -A8 'Error' "$work/apply.log" | tail -80; die "apply failed"; }
grep -E '^(applied:|post-apply plan:|smoke test:)' "$work/apply.out" >&2
applied=$(sed -n 's/^applied: \([0-9]*\) resources.*/\1/p' "$work/apply.out")
[ "$applied" = "$to_apply" ] || die "apply reports $applied created, the approved plan $to_apply"
grep -q '^smoke test: no changes after apply outside' "$work/apply.out" || die "apply did not report its second plan"
printf '%-48s %5s\n' "resources applied of planned" "$applied/$planned" >>"$timings"
log "applied $applied of $planned planned resources"

# ---- 4. smoke: the real resources, read back through the AWS API --------------------------
step "4. post-apply smoke through the AWS API"
smoke_t0=$(date +%s) smoke_ok=0
check() { # DESCRIPTION JQ-FILTER JSON: the filter must hold, else the suite fails
  jq -e "$2" <<<"$3" >/dev/null || { log "smoke: NOT $1:"; jq . <<<"$3" | head -40 >&2; die "smoke: $1"; }
  log "smoke: $1"
  smoke_ok=$((smoke_ok + 1))
}
# planned TYPE: how many resources of TYPE the applied plan creates.
planned() { jq --arg t "$1" '[.resource_changes[] | select(.mode == "managed" and .type == $t and (.change.actions | index("create")))] | length' "$work/plan/plan.json"; }
vpc=$(awsq ec2 describe-vpcs --filters Name=is-default,Values=false | jq -r '.Vpcs | if length == 1 then .[0].VpcId else error("want one VPC") end')
check "three availability zones of subnets" \
  '[.Subnets[].AvailabilityZone] | unique | length == 3' \
  "$(awsq ec2 describe-subnets --filters "Name=vpc-id,Values=$vpc")"
want_nat=3
grep -Eq '^single_nat_gateway *= *true' infra/envs/dev.tfvars && want_nat=1
check "$want_nat NAT gateway(s), as dev.tfvars configures, each in its own subnet" \
  "([.NatGateways[] | select(.State == \"available\")] | length) == $want_nat and ([.NatGateways[].SubnetId] | unique | length) == $want_nat" \
  "$(awsq ec2 describe-nat-gateways --filter "Name=vpc-id,Values=$vpc")"
retention=$(sed -n 's/^aurora_backup_retention_days *= *\([0-9]*\).*/\1/p' infra/envs/dev.tfvars)
clusters=$(awsq rds describe-db-clusters)
check "Aurora encrypted with a customer key, $retention days of backups, IAM auth" \
  "(.DBClusters | length) == 1 and (.DBClusters[0] | .StorageEncrypted and (.KmsKeyId | test(\"^arn:aws:kms:\")) and .BackupRetentionPeriod == $retention and .IAMDatabaseAuthenticationEnabled)" \
  "$clusters"
cluster_id=$(jq -r '.DBClusters[0].DBClusterIdentifier' <<<"$clusters")
check "Aurora instances in the cluster, not publicly accessible" \
  '(.DBInstances | length) >= 2 and all(.DBInstances[]; .PubliclyAccessible == false)' \
  "$(awsq rds describe-db-instances --filters "Name=db-cluster-id,Values=$cluster_id")"
eks=$(awsq eks list-clusters | jq -r '.clusters | if length == 1 then .[0] else error("want one cluster") end')
check "EKS $eks encrypts secrets with a KMS key, private endpoint" \
  '.cluster | (.encryptionConfig[0].resources == ["secrets"]) and (.encryptionConfig[0].provider.keyArn | test("^arn:aws:kms:")) and .resourcesVpcConfig.endpointPrivateAccess' \
  "$(awsq eks describe-cluster --name "$eks")"
topic=$(awsq sns list-topics | jq -r '.Topics | if length == 1 then .[0].TopicArn else error("want one topic") end')
check "alerts topic encrypted with a KMS key" \
  '.Attributes.KmsMasterKeyId | length > 0' \
  "$(awsq sns get-topic-attributes --topic-arn "$topic")"
n_subs=$(planned aws_sns_topic_subscription)
check "the alerts topic has the $n_subs subscriber(s) the plan creates" \
  "(.Subscriptions | length) == $n_subs" \
  "$(awsq sns list-subscriptions-by-topic --topic-arn "$topic")"
acl=$(awsq wafv2 list-web-acls --scope REGIONAL | jq -c '.WebACLs | if length == 1 then .[0] else error("want one web ACL") end')
check "WAF web ACL $(jq -r .Name <<<"$acl") with its rate-based rule" \
  '[.WebACL.Rules[] | select(.Statement.RateBasedStatement)] | length >= 1' \
  "$(awsq wafv2 get-web-acl --scope REGIONAL --name "$(jq -r .Name <<<"$acl")" --id "$(jq -r .Id <<<"$acl")")"
etl=$(awsq s3api list-buckets | jq -r '[.Buckets[].Name | select(endswith("-etl-data"))] | if length == 1 then .[0] else error("want one ETL bucket") end')
check "ETL bucket $etl encrypted with KMS by default" \
  '.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm == "aws:kms"' \
  "$(awsq s3api get-bucket-encryption --bucket "$etl")"
check "ETL bucket $etl blocks all public access" \
  '.PublicAccessBlockConfiguration | .BlockPublicAcls and .BlockPublicPolicy and .IgnorePublicAcls and .RestrictPublicBuckets' \
  "$(awsq s3api get-public-access-block --bucket "$etl")"
n_keys=0 n_signing=0
for key in $(awsq kms list-keys | jq -r '.Keys[].KeyId'); do
  meta=$(awsq kms describe-key --key-id "$key")
  [ "$(jq -r .KeyMetadata.KeyManager <<<"$meta")" = CUSTOMER ] || continue
  n_keys=$((n_keys + 1))
  # The image-signing key (ci-identities) is asymmetric, which KMS cannot rotate
  # (docs/pipeline.md "Signing keys"); every encryption key must rotate.
  if [ "$(jq -r .KeyMetadata.KeyUsage <<<"$meta")" = SIGN_VERIFY ]; then
    jq -e '.KeyMetadata.KeySpec == "ECC_NIST_P256"' <<<"$meta" >/dev/null || die "smoke: signing key $key is not ECC_NIST_P256"
    n_signing=$((n_signing + 1))
    continue
  fi
  awsq kms get-key-rotation-status --key-id "$key" | jq -e .KeyRotationEnabled >/dev/null || die "smoke: KMS key $key does not rotate"
done
# The bootstrap's key and the environment's.
want_keys=$(($(planned aws_kms_key) + $(jq '[.resources[] | select(.mode == "managed" and .type == "aws_kms_key") | .instances[]] | length' "$work/bootstrap.tfstate")))
[ "$n_keys" = "$want_keys" ] || die "smoke: $n_keys customer KMS keys, want $want_keys (plan + bootstrap)"
[ "$n_signing" = 1 ] || die "smoke: $n_signing signing keys, want 1 (the image-signing key)"
log "smoke: all $((n_keys - n_signing)) customer encryption keys rotate; the image-signing key is ECC_NIST_P256"
printf '%-48s %5d s\n' "smoke ($smoke_ok checks + KMS through the AWS API)" $(($(date +%s) - smoke_t0)) >>"$timings"

# ---- 5. destroy ----------------------------------------------------------------------------
step "5. dagger call plan --destroy, then destroy of the approved plan"
timed "plan --destroy" dl destroy-plan plan --destroy export --path="$work/destroy" ||
  { tail -40 "$work/destroy-plan.log"; die "plan --destroy failed"; }
# apply takes no destroy plan: it is destroy's, under its own digest.
if dl apply-destroy apply --plan="$work/destroy/tfplan" --approved-sha256="$(cat "$work/destroy/tfplan.sha256")"; then
  die "apply applied a destroy plan"
fi
grep -q 'refusing to apply: the plan removes everything' "$work/apply-destroy.log" ||
  { tail -30 "$work/apply-destroy.log"; die "apply of the destroy plan failed, but not at the plan check"; }
timed "destroy" dl destroy destroy --plan="$work/destroy/tfplan" --approved-sha256="$(cat "$work/destroy/tfplan.sha256")" || { grep -A8 'Error' "$work/destroy.log" | tail -60; die "destroy failed"; }
grep -q '^destroyed: the state holds no resource' "$work/destroy.out" || die "destroy did not report an empty state"
printf '%-48s %5d s\n' "suite total" $(($(date +%s) - suite_start)) >>"$timings"
log "suite 23 passed: applied $applied of $planned planned resources, smoke-tested, planned again and destroyed"
