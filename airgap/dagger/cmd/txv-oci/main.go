// Command txv-oci is the image side of the offline Dagger engine: it assembles images from
// local tarballs into OCI layouts (no registry or daemon needed at build time) and serves
// those layouts from a registry bound to loopback, which the engine uses as its mirror for
// docker.io and the other registries a pipeline names.
//
//	txv-oci assemble -out DIR [-base DIR] [-layer TAR]... [-env K=V]... [-label K=V]... [-cmd ARG]... [-workdir D] [-user U]
//	txv-oci serve -addr 127.0.0.1:PORT -blobs DIR [-image NAME=LAYOUT]...
//	txv-oci push -addr 127.0.0.1:PORT [-image NAME=LAYOUT]...
//	txv-oci digest -layout DIR
package main

import (
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("txv-oci: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: txv-oci assemble|serve|push|digest [flags]")
	}
	var err error
	switch os.Args[1] {
	case "assemble":
		err = assemble(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	case "push":
		err = push(os.Args[2:])
	case "digest":
		err = printDigest(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

func assemble(args []string) error {
	fs := flag.NewFlagSet("assemble", flag.ExitOnError)
	out := fs.String("out", "", "OCI layout directory to create (must not exist)")
	base := fs.String("base", "", "OCI layout of the base image (default: empty)")
	workdir := fs.String("workdir", "", "working directory")
	user := fs.String("user", "", "user the image runs as")
	var layers, env, labels, cmd multi
	fs.Var(&layers, "layer", "uncompressed tar to add as a layer (repeatable, in order)")
	fs.Var(&env, "env", "K=V to set in the config (repeatable; replaces an inherited K)")
	fs.Var(&labels, "label", "K=V label to set in the config (repeatable; replaces an inherited K)")
	fs.Var(&cmd, "cmd", "one argument of the default command (repeatable)")
	_ = fs.Parse(args)
	if *out == "" {
		return errors.New("assemble: -out is required")
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("assemble: %s exists; the caller decides when to rebuild", *out)
	}

	img := empty.Image
	if *base != "" {
		var err error
		if img, err = layoutImage(*base); err != nil {
			return err
		}
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, path := range layers {
		// BestSpeed: these layers are a few hundred MB and only ever travel over loopback;
		// default gzip costs minutes of the 2 shared cores for a few percent of disk.
		l, err := tarball.LayerFromFile(path,
			tarball.WithCompressionLevel(gzip.BestSpeed),
			tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return fmt.Errorf("layer %s: %w", path, err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{
			Layer:   l,
			History: v1.History{CreatedBy: "txv-oci assemble " + filepath.Base(path)},
		}); err != nil {
			return err
		}
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Env = mergeEnv(cf.Config.Env, env)
	if len(cmd) > 0 {
		cf.Config.Cmd = cmd
	}
	if *workdir != "" {
		cf.Config.WorkingDir = *workdir
	}
	if *user != "" {
		cf.Config.User = *user
	}
	for _, kv := range labels {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("assemble: bad -label %q, want K=V", kv)
		}
		if cf.Config.Labels == nil {
			cf.Config.Labels = map[string]string{}
		}
		cf.Config.Labels[k] = v
	}
	// A fixed time keeps the digest a function of the content, so rebuilding the same
	// inputs gives the same image (and the engine's cache stays valid).
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}

	tmp := *out + ".tmp"
	_ = os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img); err != nil {
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}

func mergeEnv(have, set []string) []string {
	out := make([]string, 0, len(have)+len(set))
	replaced := map[string]bool{}
	for _, kv := range set {
		replaced[strings.SplitN(kv, "=", 2)[0]] = true
	}
	for _, kv := range have {
		if !replaced[strings.SplitN(kv, "=", 2)[0]] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

// layoutImage returns the only image of an OCI layout written by assemble.
func layoutImage(dir string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("%s: want exactly one image, found %d", dir, len(m.Manifests))
	}
	return idx.Image(m.Manifests[0].Digest)
}

func printDigest(args []string) error {
	fs := flag.NewFlagSet("digest", flag.ExitOnError)
	dir := fs.String("layout", "", "OCI layout directory")
	_ = fs.Parse(args)
	img, err := layoutImage(*dir)
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:5055", "listen address; loopback only")
	blobs := fs.String("blobs", "", "directory for blobs (manifests live in memory)")
	var images multi
	fs.Var(&images, "image", "REPO:TAG=LAYOUT to serve, e.g. library/debian:bookworm=/path (repeatable)")
	_ = fs.Parse(args)

	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to listen on %s: this registry serves loopback only", *addr)
	}
	if *blobs == "" {
		return errors.New("serve: -blobs is required")
	}
	linked, removed, err := syncBlobStore(*blobs, images)
	if err != nil {
		return fmt.Errorf("serve: blob store: %w", err)
	}
	log.Printf("blob store: %d blobs linked from the layouts, %d no layout holds removed", linked, removed)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: registry.New(
			registry.WithBlobHandler(registry.NewDiskBlobHandler(*blobs)),
			registry.Logger(log.New(os.Stderr, "txv-oci registry: ", log.Ltime)),
		),
		ReadHeaderTimeout: 30 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()

	// The registry keeps manifests in memory, so each start pushes the layouts again; their
	// blobs are in the store already (syncBlobStore), so the HEAD check skips every one.
	if err := pushAll(*addr, images); err != nil {
		return err
	}
	// up.sh waits for this line: every image is pullable once it is printed.
	log.Printf("ready on %s", *addr)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// push copies layouts into a registry that is already serving (the one serve started), so
// images built after the start become pullable without restarting the registry or the
// engine. A tag whose manifest already has the layout's digest is left alone, which makes
// a push of everything cost milliseconds when nothing changed.
func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:5055", "registry address; loopback only")
	var images multi
	fs.Var(&images, "image", "REPO:TAG=LAYOUT to push, e.g. library/debian:bookworm=/path (repeatable)")
	_ = fs.Parse(args)
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing to push to %s: only the loopback registry is ours", *addr)
	}
	return pushAll(*addr, images)
}

// pushAll writes each REPO:TAG=LAYOUT into the registry at addr, skipping tags that
// already point at the layout's image.
func pushAll(addr string, images []string) error {
	for _, spec := range images {
		repoTag, dir, ok := strings.Cut(spec, "=")
		if !ok {
			return fmt.Errorf("bad -image %q, want REPO:TAG=LAYOUT", spec)
		}
		ref, err := name.ParseReference(addr+"/"+repoTag, name.Insecure)
		if err != nil {
			return err
		}
		img, err := layoutImage(dir)
		if err != nil {
			return err
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		if have, err := remote.Head(ref); err == nil && have.Digest == d {
			log.Printf("serving %s (%s), unchanged", ref, d)
			continue
		}
		t := time.Now()
		if err := remote.Write(ref, img); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
		log.Printf("serving %s (%s) in %s", ref, d, time.Since(t).Round(time.Millisecond))
	}
	return nil
}
