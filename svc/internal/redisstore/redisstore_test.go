package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/transaction-validator/transaction-validator/svc/internal/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/devserver/devtest"
	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
	"github.com/transaction-validator/transaction-validator/svc/internal/redisstore"
)

func client(t *testing.T) redis.UniversalClient {
	t.Helper()
	srv := devtest.Redis(t, devserver.RedisOptions{})
	rdb, err := redisstore.NewClient(redisstore.Options{Endpoint: srv.Endpoint, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestIdempotencyClaimLifecycle(t *testing.T) {
	ctx := context.Background()
	s := redisstore.NewIdempotency(client(t), time.Hour, 400*time.Millisecond)
	fp, other := []byte("fp-1"), []byte("fp-2")
	if c, err := s.Claim(ctx, "m", "k", fp); err != nil || c.State != payment.Claimed {
		t.Fatal(c, err)
	}
	if c, _ := s.Claim(ctx, "m", "k", fp); c.State != payment.InProgress {
		t.Fatalf("second claim: %v", c.State)
	}
	if c, _ := s.Claim(ctx, "m2", "k", fp); c.State != payment.Claimed {
		t.Fatal("keys are not scoped per merchant")
	}
	// Another request's fingerprint cannot release this claim.
	_ = s.Release(ctx, "m", "k", other)
	if c, _ := s.Claim(ctx, "m", "k", fp); c.State != payment.InProgress {
		t.Fatal("foreign release freed the claim")
	}
	_ = s.Release(ctx, "m", "k", fp)
	if c, _ := s.Claim(ctx, "m", "k", fp); c.State != payment.Claimed {
		t.Fatal("own release did not free the claim")
	}
	res := payment.Result{RequestID: "r1", Decision: payment.Review, Reasons: []payment.Reason{payment.ReasonMerchantLimit}, DecidedAt: time.Now().UTC()}
	if err := s.Complete(ctx, "m", "k", payment.Stored{Fingerprint: fp, Result: res}); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Claim(ctx, "m", "k", other)
	if c.State != payment.Done || c.Stored.Result.RequestID != "r1" || string(c.Stored.Fingerprint) != "fp-1" ||
		c.Stored.Result.Reasons[0] != payment.ReasonMerchantLimit {
		t.Fatalf("stored answer: %+v", c)
	}
	// A completed answer is not released by a late Release.
	_ = s.Release(ctx, "m", "k", fp)
	if c, _ := s.Claim(ctx, "m", "k", fp); c.State != payment.Done {
		t.Fatal("release removed a completed answer")
	}
}

func TestAbandonedClaimExpires(t *testing.T) {
	ctx := context.Background()
	s := redisstore.NewIdempotency(client(t), time.Hour, 300*time.Millisecond)
	if c, _ := s.Claim(ctx, "m", "crash", []byte("fp")); c.State != payment.Claimed {
		t.Fatal(c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := s.Claim(ctx, "m", "crash", []byte("fp"))
		if err != nil {
			t.Fatal(err)
		}
		if c.State == payment.Claimed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("abandoned claim never expired")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestVelocityAndUndo(t *testing.T) {
	ctx := context.Background()
	v := redisstore.NewVelocity(client(t))
	now := time.Now()
	v.Hit(ctx, "card", "m", now)
	c, err := v.Hit(ctx, "card", "m", now)
	if err != nil || c.Card != 2 || c.Merchant != 2 {
		t.Fatal(c, err)
	}
	if c, _ := v.Hit(ctx, "card2", "m", now); c.Card != 1 || c.Merchant != 3 {
		t.Fatal(c)
	}
	_ = v.Undo(ctx, "card2", "m", now)
	if c, _ := v.Hit(ctx, "card", "m", now.Add(time.Minute)); c.Card != 1 || c.Merchant != 1 {
		t.Fatalf("new window should start at 1: %+v", c)
	}
	if c, _ := v.Hit(ctx, "card2", "m", now); c.Card != 1 || c.Merchant != 3 {
		t.Fatalf("undo did not take the hit back: %+v", c)
	}
}

func TestGCRARateLimiter(t *testing.T) {
	ctx := context.Background()
	l := redisstore.NewRateLimiter(client(t), 3)
	for i := 0; i < 3; i++ {
		if ok, _, err := l.Allow(ctx); !ok || err != nil {
			t.Fatalf("request %d refused: %v", i, err)
		}
	}
	ok, retry, err := l.Allow(ctx)
	if ok || err != nil || retry <= 0 || retry > time.Second {
		t.Fatalf("4th: ok=%v retry=%s err=%v", ok, retry, err)
	}
}

func TestEndpointParsing(t *testing.T) {
	for _, bad := range []string{"http://h:1", "redis://h:1/x", "redis://%zz"} {
		if _, err := redisstore.NewClient(redisstore.Options{Endpoint: bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := redisstore.NewClient(redisstore.Options{Endpoint: "redis://h:1/2", ClusterMode: true}); err == nil {
		t.Error("database number accepted in cluster mode")
	}
}
