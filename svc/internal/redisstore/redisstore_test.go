package redisstore_test

import (
	"context"
	"strconv"
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

func attempt(merchant, key, requestID, card string, at time.Time) payment.Attempt {
	return payment.Attempt{MerchantID: merchant, IdempotencyKey: key, RequestID: requestID, CardKey: card, At: at}
}

func TestAdmissionClaims(t *testing.T) {
	ctx := context.Background()
	s := redisstore.NewAdmission(client(t), time.Hour)
	now := time.Now()
	first, second := attempt("m", "k", "r1", "card", now), attempt("m", "k", "r2", "card", now)
	if a, err := s.Admit(ctx, first); err != nil || !a.Claimed {
		t.Fatal(a, err)
	}
	if a, _ := s.Admit(ctx, second); a.Claimed {
		t.Fatal("a second request took a held key")
	}
	if a, _ := s.Admit(ctx, attempt("m2", "k", "r3", "card", now)); !a.Claimed {
		t.Fatal("keys are not scoped per merchant")
	}
	// Another request cannot release this claim.
	_ = s.Release(ctx, second)
	if a, _ := s.Admit(ctx, attempt("m", "k", "r4", "card", now)); a.Claimed {
		t.Fatal("a foreign release freed the claim")
	}
	_ = s.Release(ctx, first)
	if a, _ := s.Admit(ctx, second); !a.Claimed {
		t.Fatal("the owner's release did not free the claim")
	}
}

func TestAbandonedClaimLapses(t *testing.T) {
	ctx := context.Background()
	s := redisstore.NewAdmission(client(t), 300*time.Millisecond)
	if a, _ := s.Admit(ctx, attempt("m", "crash", "r1", "c", time.Now())); !a.Claimed {
		t.Fatal(a)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, err := s.Admit(ctx, attempt("m", "crash", "r2", "c", time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if a.Claimed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("abandoned claim never lapsed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestVelocityAndUncount(t *testing.T) {
	ctx := context.Background()
	s := redisstore.NewAdmission(client(t), time.Hour)
	now := time.Now()
	n := 0
	admit := func(card, merchant string, at time.Time) payment.VelocityCounts {
		t.Helper()
		n++
		a, err := s.Admit(ctx, attempt(merchant, strconv.Itoa(n), strconv.Itoa(n), card, at))
		if err != nil {
			t.Fatal(err)
		}
		return a.Counts
	}
	admit("card", "m", now)
	if c := admit("card", "m", now); c.Card != 2 || c.Merchant != 2 {
		t.Fatal(c)
	}
	// A duplicate (its key held) is counted too, until the caller takes it back.
	if a, _ := s.Admit(ctx, attempt("m", "1", "dup", "card", now)); a.Claimed || a.Counts.Card != 3 {
		t.Fatalf("duplicate: %+v", a)
	}
	_ = s.Uncount(ctx, attempt("m", "1", "dup", "card", now))
	if c := admit("card2", "m", now); c.Card != 1 || c.Merchant != 3 {
		t.Fatal(c)
	}
	if c := admit("card", "m", now.Add(time.Minute)); c.Card != 1 || c.Merchant != 1 {
		t.Fatalf("a new window should start at 1: %+v", c)
	}
	if c := admit("card", "m", now); c.Card != 3 || c.Merchant != 4 {
		t.Fatalf("uncount did not take the duplicate back: %+v", c)
	}
}

// TestClaimsAreShortLived guards the reason answers moved to PostgreSQL: nothing a request
// leaves in Redis may outlive the claim or the velocity window.
func TestClaimsAreShortLived(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	s := redisstore.NewAdmission(rdb, 10*time.Second)
	if _, err := s.Admit(ctx, attempt("m", "k", "r1", "card", time.Now())); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 3 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	for _, k := range keys {
		ttl, err := rdb.TTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > 2*time.Minute {
			t.Errorf("%s: TTL %s, %v", k, ttl, err)
		}
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

// TestAdmitGivesBackTheClaimWhenAShardFails: in cluster mode the claim and the counters
// live on different shards; when one shard fails, the claim taken on another must not
// stay behind, or every retry with the key would be refused until it lapsed.
func TestAdmitGivesBackTheClaimWhenAShardFails(t *testing.T) {
	ctx := context.Background()
	cluster := devtest.Redis(t, devserver.RedisOptions{ClusterNodes: 3})
	rdb, err := redisstore.NewClient(redisstore.Options{Endpoint: "redis://" + cluster.Addrs[0], ClusterMode: true, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	cc := rdb.(*redis.ClusterClient)
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	nodeOf := func(key string) string {
		slot, err := cc.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range slots {
			if int64(s.Start) <= slot && slot <= int64(s.End) {
				return s.Nodes[0].Addr
			}
		}
		t.Fatalf("no node serves slot %d", slot)
		return ""
	}
	// A first attempt, with every shard up, shows where the store keeps the merchant's count.
	s := redisstore.NewAdmission(rdb, time.Hour)
	now := time.Now()
	if _, err := s.Admit(ctx, attempt("m", "probe", "r0", "card", now)); err != nil {
		t.Fatal(err)
	}
	doomed := ""
	for _, addr := range cluster.Addrs {
		node := redis.NewClient(&redis.Options{Addr: addr})
		keys, err := node.Keys(ctx, "txv:vel:m:m:*").Result()
		node.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			doomed = addr
		}
	}
	if doomed == "" {
		t.Fatal("no shard holds the merchant's counter")
	}
	a := attempt("m", "", "r1", "card", now)
	for i := 0; a.IdempotencyKey == "" || nodeOf("txv:idem:m:"+a.IdempotencyKey) == doomed; i++ {
		a.IdempotencyKey = "k" + strconv.Itoa(i)
	}
	claimNode := redis.NewClient(&redis.Options{Addr: nodeOf("txv:idem:m:" + a.IdempotencyKey)})
	defer claimNode.Close()

	// The shard hangs: it holds every write for 10 s, so the pipeline times out on it.
	// (A shard shut down would do as well, but after cluster-node-timeout the live shards
	// refuse every command with CLUSTERDOWN, which would race with the checks below.)
	hung := redis.NewClient(&redis.Options{Addr: doomed})
	defer hung.Close()
	if err := hung.Do(ctx, "CLIENT", "PAUSE", "10000", "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	defer hung.Do(ctx, "CLIENT", "UNPAUSE")
	if _, err := s.Admit(ctx, a); err == nil {
		t.Fatal("admitted with the merchant's shard hung")
	}
	if n, err := claimNode.Exists(ctx, "txv:idem:m:"+a.IdempotencyKey).Result(); err != nil || n != 0 {
		t.Fatalf("claim left behind on the live shard: %d %v", n, err)
	}
}
