// Package distconsts replaces github.com/dagger/dagger/engine/distconsts, a nested module
// that is missing from the dagger module zip and not served by the Go proxy. build.sh
// copies this directory into the engine's source tree, where go.mod's
// `replace github.com/dagger/dagger/engine/distconsts => ./engine/distconsts` picks it up.
//
// The names are the ones the v0.19.10 source refers to. The paths are the engine image's
// layout; up.sh provides them through bind mounts inside the engine's private mount
// namespace, which is why they must stay the upstream values rather than our own paths.
package distconsts

const (
	// Used only by the CLI's container:// driver, which this air-gapped setup never uses.
	EngineContainerName = "dagger-engine.dev"

	// Defaults; up.sh overrides both with --addr and --root under the state directory.
	DefaultEngineSockAddr = "unix:///run/dagger/engine.sock"
	EngineDefaultStateDir = "/var/lib/dagger"

	// The engine runs update-ca-certificates over this directory at start and copies the
	// result into every container, so up.sh mounts a private writable copy over it.
	EngineCustomCACertsDir = "/usr/local/share/ca-certificates"

	RuncPath = "/usr/local/bin/runc"
	// Bind-mounted into every container as PID 1: must be a static binary.
	DaggerInitPath = "/usr/local/bin/dagger-init"

	// An OCI content store (blobs/sha256/...) holding the SDK runtime images, addressed by
	// the digests in the *_SDK_MANIFEST_DIGEST environment variables of the engine process.
	EngineContainerBuiltinContentDir   = "/usr/local/share/dagger/content"
	GoSDKManifestDigestEnvName         = "DAGGER_GO_SDK_MANIFEST_DIGEST"
	PythonSDKManifestDigestEnvName     = "DAGGER_PYTHON_SDK_MANIFEST_DIGEST"
	TypescriptSDKManifestDigestEnvName = "DAGGER_TYPESCRIPT_SDK_MANIFEST_DIGEST"

	OCIVersionAnnotation = "org.opencontainers.image.version"
)

// Default images: the terminal falls back to AlpineImage; the others are named by the
// engine's own integration tests only. They resolve through the docker.io mirror, so
// images.env decides whether they exist offline.
const (
	AlpineVersion = "3.22.2"
	AlpineImage   = "alpine:" + AlpineVersion
	GolangImage   = "golang:1.25-alpine"
	BusyboxImage  = "busybox:1.37.0"
)
