package devserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// S3 is a throwaway S3-compatible server: Versity's versitygw with its POSIX backend
// (each bucket a directory), built from the Go module proxy by airgap's tool cache.
type S3 struct {
	Endpoint  string // http://127.0.0.1:PORT, path-style
	AccessKey string
	SecretKey string
	Region    string
	dir       string
	proc      *process
}

// StartS3 starts versitygw on a free loopback port with fresh random root credentials.
// The binary is found through VERSITYGW_BIN, then ~/.cache/versitygw-*/bin.
func StartS3(ctx context.Context) (*S3, error) {
	home, _ := os.UserHomeDir()
	bin, err := findBinary("VERSITYGW_BIN", filepath.Join(home, ".cache/versitygw-*/bin/versitygw"), "versitygw")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "txv-s3-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &S3{AccessKey: randomHex(10), SecretKey: randomHex(20), Region: "us-east-1", dir: dir,
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port)}
	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.proc = &process{name: "versitygw", dir: dir, logf: logf, argv: []string{bin,
		"--port", "127.0.0.1:" + strconv.Itoa(port), "--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", s.Region, "posix", data}}
	if err := s.proc.start(); err != nil {
		s.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := waitTCP(ctx, "127.0.0.1:"+strconv.Itoa(port)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the server and removes its data.
func (s *S3) Close() {
	if s.proc != nil {
		s.proc.stop(syscall.SIGTERM)
		s.proc.logf.Close()
	}
	os.RemoveAll(s.dir)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
