package fxrates

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Store writes rates to S3 under Prefix + "date=YYYY-MM-DD/eurofxref.json", a layout
// Athena and Glue read as a partition column.
type Store struct {
	S3     *s3.Client
	Bucket string
	Prefix string
}

// Outcome says what Put did.
type Outcome struct {
	Key     string
	SHA256  string // hex
	Written bool   // false when an identical object was already there
}

// metaSHA256 is user metadata holding the body's SHA-256 in hex, compared by later runs.
const metaSHA256 = "content-sha256"

// Key is where the rates of date go.
func (s *Store) Key(date string) string { return s.Prefix + "date=" + date + "/eurofxref.json" }

// Put writes the canonical body unless an object with the same checksum is there. The
// body goes up in one PUT with a SHA-256 checksum that S3 verifies before it stores
// anything, so a reader never sees a partial or corrupted object.
func (s *Store) Put(ctx context.Context, r Rates) (Outcome, error) {
	body := r.Canonical()
	sum := sha256.Sum256(body)
	out := Outcome{Key: s.Key(r.Date), SHA256: hex.EncodeToString(sum[:])}
	// S3's own checksum, computed when the object was stored, is compared rather than
	// metadata alone: an object rewritten by anything else must not pass for ours.
	head, err := s.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.Bucket, Key: &out.Key, ChecksumMode: types.ChecksumModeEnabled})
	switch {
	case err == nil && aws.ToString(head.ChecksumSHA256) == base64.StdEncoding.EncodeToString(sum[:]) && head.Metadata[metaSHA256] == out.SHA256:
		return out, nil
	case err != nil && !isNotFound(err):
		return out, fmt.Errorf("s3 head %s: %w", out.Key, err)
	}
	_, err = s.S3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:            &s.Bucket,
		Key:               &out.Key,
		Body:              bytes.NewReader(body),
		ContentType:       aws.String("application/json"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		Metadata:          map[string]string{metaSHA256: out.SHA256},
	})
	if err != nil {
		return out, fmt.Errorf("s3 put %s: %w", out.Key, err)
	}
	out.Written = true
	return out, nil
}

// Verify reads the object for date back and checks its checksum and content: the way an
// operator (or a later pipeline step) confirms a run.
func (s *Store) Verify(ctx context.Context, date string) (Rates, Outcome, error) {
	key := s.Key(date)
	// With checksum mode on, the SDK checks the body against S3's stored SHA-256 as it reads.
	obj, err := s.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key, ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		return Rates{}, Outcome{Key: key}, fmt.Errorf("s3 get %s: %w", key, err)
	}
	defer obj.Body.Close()
	body, err := io.ReadAll(io.LimitReader(obj.Body, maxBodyBytes))
	if err != nil {
		return Rates{}, Outcome{Key: key}, err
	}
	sum := sha256.Sum256(body)
	out := Outcome{Key: key, SHA256: hex.EncodeToString(sum[:])}
	if want := obj.Metadata[metaSHA256]; want != out.SHA256 {
		return Rates{}, out, fmt.Errorf("checksum mismatch: metadata %q, body %s", want, out.SHA256)
	}
	r, err := ParseCanonical(body)
	if err != nil {
		return Rates{}, out, fmt.Errorf("object content: %w", err)
	}
	if r.Date != date || len(r.Rates) < MinCurrencies {
		return Rates{}, out, fmt.Errorf("object holds date %s with %d rates", r.Date, len(r.Rates))
	}
	return r, out, nil
}

func isNotFound(err error) bool {
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	var re *smithyhttp.ResponseError
	return errors.As(err, &nf) || errors.As(err, &nsk) || (errors.As(err, &re) && re.HTTPStatusCode() == 404)
}
