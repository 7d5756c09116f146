package redisstore_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
	"github.com/transaction-validator/transaction-validator/svc/internal/redisstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
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
	s := redisstore.NewAdmission(client(t), time.Hour, unlimited)
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
	s := redisstore.NewAdmission(client(t), 300*time.Millisecond, unlimited)
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
	s := redisstore.NewAdmission(client(t), time.Hour, unlimited)
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
	// At 10 a second the limit's key lives 100 ms: long enough to be seen below.
	s := redisstore.NewAdmission(rdb, 10*time.Second, 10)
	if _, err := s.Admit(ctx, attempt("m", "k", "r1", "card", time.Now())); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 4 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	for _, k := range keys {
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > 2*time.Minute {
			t.Errorf("%s: TTL %s, %v", k, ttl, err)
		}
	}
}

// unlimited is a rate limit the tests that are not about it never reach.
const unlimited = 1_000_000

// TestRateLimit: the shared limit admits its burst, then refuses with the wait until the
// next; a refused attempt leaves no claim and no count behind, and the replica that was
// refused does not ask Redis again until that wait is over.
func TestRateLimit(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	s := redisstore.NewAdmission(rdb, time.Hour, 3)
	now := time.Now()
	for i := range 3 {
		a, err := s.Admit(ctx, attempt("m", "k"+strconv.Itoa(i), "r"+strconv.Itoa(i), "card", now))
		if err != nil || a.Limited || !a.Claimed || a.Counts.Card != int64(i+1) {
			t.Fatalf("attempt %d: %+v %v", i, a, err)
		}
	}
	refused := attempt("m", "k3", "r3", "card", now)
	a, err := s.Admit(ctx, refused)
	if err != nil || !a.Limited || a.Claimed || a.RetryAfter <= 0 || a.RetryAfter > time.Second/3 {
		t.Fatalf("4th attempt: %+v %v", a, err)
	}
	if n, _ := rdb.Exists(ctx, "txv:idem:m:k3").Result(); n != 0 {
		t.Fatal("a refused attempt kept its claim")
	}

	scripts := func() int64 { return commandCalls(t, rdb, "evalsha") + commandCalls(t, rdb, "eval") }
	before := scripts()
	if a, err := s.Admit(ctx, refused); err != nil || !a.Limited || a.RetryAfter <= 0 {
		t.Fatalf("within the wait: %+v %v", a, err)
	}
	if n := scripts() - before; n != 0 {
		t.Fatalf("a refusal within the wait went to Redis (%d scripts run)", n)
	}

	time.Sleep(a.RetryAfter)
	a, err = s.Admit(ctx, refused)
	if err != nil || a.Limited || !a.Claimed {
		t.Fatalf("after the wait: %+v %v", a, err)
	}
	// 4, not 5: the refusal's counts were taken back.
	if a.Counts.Card != 4 || a.Counts.Merchant != 4 {
		t.Fatalf("counts after a refusal: %+v", a.Counts)
	}
}

// commandCalls reads how many times Redis has run cmd, from INFO commandstats.
func commandCalls(t *testing.T, rdb redis.UniversalClient, cmd string) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(info, "cmdstat_"+cmd+":calls=")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRateLimitAgreesWithRedisRate holds the store's own GCRA script to go-redis/redis_rate,
// the library it stands in for because a library call cannot join a pipeline. Both run
// side by side on one Redis, attempt for attempt, at rates whose emission interval (100 ms
// or more) is far longer than the test's requests take, so both see the same arrivals.
func TestRateLimitAgreesWithRedisRate(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	for _, perSecond := range []int{1, 3, 10} {
		ours := redisstore.NewAdmission(rdb, time.Hour, perSecond)
		theirs := redis_rate.NewLimiter(rdb)
		limit := redis_rate.PerSecond(perSecond)
		key := "oracle:" + strconv.Itoa(perSecond)
		// The store's limit has one key: start each rate on a fresh one.
		if err := rdb.Del(ctx, redisstore.RateLimitKey).Err(); err != nil {
			t.Fatal(err)
		}
		n := 0
		wave := func(attempts int) (admitted int, ourWait, theirWait time.Duration) {
			for range attempts {
				n++
				a, err := ours.Admit(ctx, attempt("m", strconv.Itoa(n), strconv.Itoa(n), "card", time.Now()))
				if err != nil {
					t.Fatal(err)
				}
				res, err := theirs.Allow(ctx, key, limit)
				if err != nil {
					t.Fatal(err)
				}
				if a.Limited != (res.Allowed == 0) {
					t.Fatalf("%d/s, attempt %d: ours limited=%v, redis_rate allowed=%d", perSecond, n, a.Limited, res.Allowed)
				}
				if a.Limited && ourWait == 0 {
					ourWait, theirWait = a.RetryAfter, res.RetryAfter
				}
				if !a.Limited {
					admitted++
				}
			}
			return admitted, ourWait, theirWait
		}
		admitted, ourWait, theirWait := wave(perSecond + 3)
		if admitted != perSecond {
			t.Fatalf("%d/s: first wave admitted %d", perSecond, admitted)
		}
		if d := ourWait - theirWait; d < -10*time.Millisecond || d > 10*time.Millisecond {
			t.Fatalf("%d/s: wait %s, redis_rate says %s", perSecond, ourWait, theirWait)
		}
		time.Sleep(max(ourWait, theirWait))
		if admitted, _, _ := wave(3); admitted != 1 {
			t.Fatalf("%d/s: after one interval admitted %d, want 1", perSecond, admitted)
		}
	}
}

// TestAdmitAfterScriptCacheLoss: a restarted or failed-over shard has no scripts cached;
// the pipeline's EVALSHA fails there, and the store sends the script itself.
func TestAdmitAfterScriptCacheLoss(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	s := redisstore.NewAdmission(rdb, time.Hour, 1)
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	a, err := s.Admit(ctx, attempt("m", "k1", "r1", "card", time.Now()))
	if err != nil || a.Limited || !a.Claimed || a.Counts.Card != 1 {
		t.Fatalf("first: %+v %v", a, err)
	}
	// The refusal's give-back runs a script of its own: lose the cache again before it.
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if a, err := s.Admit(ctx, attempt("m", "k2", "r2", "card", time.Now())); err != nil || !a.Limited {
		t.Fatalf("second: %+v %v", a, err)
	}
	if n, _ := rdb.Exists(ctx, "txv:idem:m:k2").Result(); n != 0 {
		t.Fatal("the refused attempt kept its claim")
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
// stay behind after the give-back that follows a failed Admit, or every retry with the
// key would be refused until it lapsed.
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
	s := redisstore.NewAdmission(rdb, time.Hour, unlimited)
	now := time.Now()
	if _, err := s.Admit(ctx, attempt("m", "probe", "r0", "card", now)); err != nil {
		t.Fatal(err)
	}
	doomed := ""
	for _, addr := range cluster.Addrs {
		node := redis.NewClient(&redis.Options{Addr: addr})
		keys, err := node.Keys(ctx, "txv:vel:merchant:m:*").Result()
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
	// As the service does after any failed Admit. The hung shard's part of it fails too;
	// the live shard's must still free the claim.
	_ = s.GiveBack(ctx, a)
	if n, err := claimNode.Exists(ctx, "txv:idem:m:"+a.IdempotencyKey).Result(); err != nil || n != 0 {
		t.Fatalf("claim left behind on the live shard: %d %v", n, err)
	}
}

// TestAdmitIsIdempotentByRequestID: a second send of one attempt (its first ran, its
// answer was lost) keeps the claim and is counted once; GiveBack takes back exactly what
// the attempt holds, and nothing from an attempt that never reached Redis.
func TestAdmitIsIdempotentByRequestID(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	s := redisstore.NewAdmission(rdb, time.Hour, unlimited)
	now := time.Now()
	other := attempt("m", "k0", "r0", "card", now)
	if _, err := s.Admit(ctx, other); err != nil {
		t.Fatal(err)
	}
	a := attempt("m", "k1", "r1", "card", now)
	for i := range 2 {
		got, err := s.Admit(ctx, a)
		if err != nil || !got.Claimed || got.Counts.Card != 2 || got.Counts.Merchant != 2 {
			t.Fatalf("send %d: %+v %v", i+1, got, err)
		}
	}
	// Never admitted: its give-back must not take anyone else's count.
	if err := s.GiveBack(ctx, attempt("m", "k2", "r2", "card", now)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.GiveBack(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := rdb.Exists(ctx, "txv:idem:m:k1").Result(); n != 0 {
		t.Fatal("GiveBack left the claim")
	}
	got, err := s.Admit(ctx, attempt("m", "k3", "r3", "card", now))
	if err != nil || got.Counts.Card != 2 || got.Counts.Merchant != 2 {
		t.Fatalf("after the give-backs the next attempt is the second: %+v %v", got, err)
	}
}

// TestRefund: a refunded unit can be spent again at once, and refunds never bank budget
// beyond the burst.
func TestRefund(t *testing.T) {
	ctx := context.Background()
	rdb := client(t)
	s := redisstore.NewAdmission(rdb, time.Hour, 2)
	now := time.Now()
	admit := func(i int) payment.Admitted {
		t.Helper()
		a, err := s.Admit(ctx, attempt("m", "k"+strconv.Itoa(i), "r"+strconv.Itoa(i), "card", now))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if admit(1).Limited || admit(2).Limited || !admit(3).Limited {
		t.Fatal("a burst of 2 should admit 2")
	}
	if err := s.Refund(ctx); err != nil {
		t.Fatal(err)
	}
	if admit(4).Limited {
		t.Fatal("the refunded unit was not spendable")
	}
	if !admit(5).Limited {
		t.Fatal("one refund gave back more than one unit")
	}
	for range 5 {
		if err := s.Refund(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if admit(6).Limited || admit(7).Limited || !admit(8).Limited {
		t.Fatal("refunds banked budget beyond the burst")
	}
}
