// Package awskms holds the seam test of the pipeline's online signing: cosign's AWS KMS
// client, what `dagger call sign --kms-key awskms:///alias/...` runs (ci/sign.go), against
// the image-signing key infra/modules/ci-identities makes, on an AWS API emulator
// (moto_server). It has no code of its own: the test drives the real tools, which is the
// point of it (docs/pipeline.md, "Signing keys").
package awskms
