package main

import (
	"os"
	"path/filepath"
	"testing"
)

func writeBlob(t *testing.T, dir, hex, content string) string {
	t.Helper()
	p := filepath.Join(dir, "blobs", "sha256", hex)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSyncBlobStoreLinksServedBlobsAndDropsTheRest(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	blobA := writeBlob(t, a, "aaaa", "layer a")
	blobShared := writeBlob(t, a, "5555", "shared base")
	writeBlob(t, b, "5555", "shared base")
	blobB := writeBlob(t, b, "bbbb", "layer b")

	store := filepath.Join(root, "store")
	sha := filepath.Join(store, "sha256")
	if err := os.MkdirAll(sha, 0o755); err != nil {
		t.Fatal(err)
	}
	// Left by earlier runs: a blob of an image rebuilt since, and a pushed copy of a served one.
	if err := os.WriteFile(filepath.Join(sha, "dead"), []byte("old tofu layer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sha, "aaaa"), []byte("layer a"), 0o644); err != nil {
		t.Fatal(err)
	}

	linked, removed, err := syncBlobStore(store, []string{"x:1=" + a, "y:2=" + b})
	if err != nil {
		t.Fatal(err)
	}
	if linked != 3 || removed != 1 {
		t.Errorf("linked %d, removed %d; want 3 linked (aaaa re-linked, 5555, bbbb) and 1 removed (dead)", linked, removed)
	}
	if _, err := os.Stat(filepath.Join(sha, "dead")); !os.IsNotExist(err) {
		t.Errorf("stale blob kept: %v", err)
	}
	for hex, src := range map[string]string{"aaaa": blobA, "bbbb": blobB} {
		if !sameFile(src, filepath.Join(sha, hex)) {
			t.Errorf("%s is not a link to %s", hex, src)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(sha, "5555")); string(got) != "shared base" {
		t.Errorf("shared blob: %q", got)
	}
	_ = blobShared

	// A second sync on the same layouts changes nothing.
	linked, removed, err = syncBlobStore(store, []string{"x:1=" + a, "y:2=" + b})
	if err != nil || linked != 0 || removed != 0 {
		t.Errorf("second sync: linked %d, removed %d, err %v; want 0, 0, nil", linked, removed, err)
	}
}

func TestSyncBlobStoreRejectsABadSpecAndAMissingLayout(t *testing.T) {
	store := t.TempDir()
	if _, _, err := syncBlobStore(store, []string{"no-equals-sign"}); err == nil {
		t.Error("bad spec accepted")
	}
	if _, _, err := syncBlobStore(store, []string{"x:1=" + filepath.Join(store, "missing")}); err == nil {
		t.Error("missing layout accepted")
	}
}
