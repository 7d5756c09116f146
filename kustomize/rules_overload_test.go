package kustomize

// Load shedding and the time budget (issue 21): the service's MAX_IN_FLIGHT, its pools and
// its time-outs, as the app ConfigMap sets them, against each other and the HPA.

import (
	"strconv"
	"time"
)

// overloadAnswerBound is issue 21's overload goal: at twice the sustainable rate, every
// request is answered within this long (svc/internal/app/overload_test.go measures it).
const overloadAnswerBound = time.Second

// The service's own defaults (svc/internal/config), which apply to a key the ConfigMap
// leaves out.
var serviceDefaults = map[string]string{
	"MAX_IN_FLIGHT": "64", "REDIS_POOL_SIZE": "64", "DB_POOL_MAX_CONNS": "16", "AUDIT_WRITERS": "2",
	"REDIS_TIMEOUT": "250ms", "DB_TIMEOUT": "2s", "REQUEST_TIMEOUT": "5s", "SHUTDOWN_TIMEOUT": "20s",
}

func checkLoadShedding(_ env, m *manifests) (out []string) {
	cm, err := appConfig(m)
	if err != nil {
		return []string{err.Error()}
	}
	value := func(key string) string {
		if v, ok := cm.Data[key]; ok {
			return v
		}
		return serviceDefaults[key]
	}
	integer := func(key string) int {
		n, err := strconv.Atoi(value(key))
		if err != nil || n <= 0 {
			errorf(&out, "%s=%q must be a positive integer", key, value(key))
		}
		return n
	}
	duration := func(key string) time.Duration {
		d, err := time.ParseDuration(value(key))
		if err != nil || d <= 0 {
			errorf(&out, "%s=%q must be a positive duration", key, value(key))
		}
		return d
	}
	// Set on purpose, with its reason next to it, not left to a default nobody chose.
	if _, ok := cm.Data["MAX_IN_FLIGHT"]; !ok {
		errorf(&out, "the ConfigMap must set MAX_IN_FLIGHT (load shedding) explicitly")
	}
	inFlight, redisPool := integer("MAX_IN_FLIGHT"), integer("REDIS_POOL_SIZE")
	// Every request in flight needs at most one Redis connection at a time (its admission
	// pipeline). With more in flight than the pool holds, the queue the limit exists to
	// prevent just moves onto the pool, where requests wait up to REDIS_TIMEOUT and fail.
	if inFlight > redisPool {
		errorf(&out, "MAX_IN_FLIGHT %d exceeds REDIS_POOL_SIZE %d: admitted requests would queue on the Redis pool", inFlight, redisPool)
	}
	// A pod saturated with MAX_IN_FLIGHT requests answers the last of them after about
	// MAX_IN_FLIGHT / its rate. The HPA's per-pod target is a rate every pod carries, so at
	// that rate the queue must drain within the overload goal.
	if len(m.HPAs) == 1 {
		for _, mt := range m.HPAs[0].Spec.Metrics {
			if mt.Pods == nil || mt.Pods.Metric.Name != customMetric || mt.Pods.Target.AverageValue == nil {
				continue
			}
			perPod := mt.Pods.Target.AverageValue.AsApproximateFloat64()
			if drain := time.Duration(float64(inFlight) / perPod * float64(time.Second)); drain > overloadAnswerBound {
				errorf(&out, "MAX_IN_FLIGHT %d at the HPA's per-pod target of %.0f req/s takes %s to drain, over the %s overload goal",
					inFlight, perPod, drain.Round(time.Millisecond), overloadAnswerBound)
			}
		}
	}
	// Requests hold no database connection; the group-commit writers and replay lookups do.
	if pool, writers := integer("DB_POOL_MAX_CONNS"), integer("AUDIT_WRITERS"); pool <= writers {
		errorf(&out, "DB_POOL_MAX_CONNS %d must exceed AUDIT_WRITERS %d, or replay lookups wait for a commit's connection", pool, writers)
	}
	// The time budget: admission has two Redis time-outs (a dial, then the pipeline), the
	// audit two batches (the one in flight, then the request's own); the whole request must
	// outlast them, so a failing store is answered by its own bound, and fit in the
	// shutdown time-out, so a draining pod finishes what it admitted.
	redisT, dbT, reqT, shutT := duration("REDIS_TIMEOUT"), duration("DB_TIMEOUT"), duration("REQUEST_TIMEOUT"), duration("SHUTDOWN_TIMEOUT")
	if stores := 2*redisT + 2*dbT; stores > reqT {
		errorf(&out, "REQUEST_TIMEOUT %s is below 2 x REDIS_TIMEOUT + 2 x DB_TIMEOUT = %s", reqT, stores)
	}
	if reqT > shutT {
		errorf(&out, "REQUEST_TIMEOUT %s exceeds SHUTDOWN_TIMEOUT %s: shutdown would cut admitted requests off", reqT, shutT)
	}
	return out
}
