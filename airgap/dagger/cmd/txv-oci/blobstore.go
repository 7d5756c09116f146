package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// syncBlobStore makes the registry's blob store hold exactly the blobs of the layouts it is
// about to serve. Each blob is hard-linked from its layout, so the push that follows finds
// it present (HEAD) and copies nothing, and the images take their disk space once instead
// of twice; a blob no served layout has is removed, since only images rebuilt since (an old
// pin's tofu image, say) referred to it and nothing will ask for it again. Across file
// systems, where links cannot be made, the push copies as before. It returns how many blobs
// it linked and removed.
func syncBlobStore(store string, images []string) (linked, removed int, err error) {
	want := map[string]string{} // hex digest -> the blob in a layout
	for _, spec := range images {
		_, dir, ok := strings.Cut(spec, "=")
		if !ok {
			return 0, 0, fmt.Errorf("bad -image %q, want REPO:TAG=LAYOUT", spec)
		}
		entries, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
		if err != nil {
			return 0, 0, err
		}
		for _, e := range entries {
			want[e.Name()] = filepath.Join(dir, "blobs", "sha256", e.Name())
		}
	}
	shaDir := filepath.Join(store, "sha256")
	if err := os.MkdirAll(shaDir, 0o755); err != nil {
		return 0, 0, err
	}
	have, err := os.ReadDir(shaDir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range have {
		p := filepath.Join(shaDir, e.Name())
		if src, ok := want[e.Name()]; ok {
			if sameFile(src, p) {
				delete(want, e.Name())
				continue
			}
			// A copy an earlier push made: replaced by a link below, which frees its space.
		} else {
			removed++
		}
		if err := os.Remove(p); err != nil {
			return linked, removed, err
		}
	}
	for hex, src := range want {
		switch err := os.Link(src, filepath.Join(shaDir, hex)); {
		case err == nil:
			linked++
		case errors.Is(err, syscall.EXDEV):
			// Another file system: the push copies this one.
		default:
			return linked, removed, err
		}
	}
	return linked, removed, nil
}

func sameFile(a, b string) bool {
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(ia, ib)
}
