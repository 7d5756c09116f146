package main

import (
	"context"
	"strconv"

	"dagger/transaction-validator/internal/dagger"
)

// postDeployRate is the service-wide admission limit (MAX_TRANSACTIONS_PER_SECOND) of
// the version the local post-deploy checks run against, and postDeployBurst the most
// requests their 429 check sends: the burst must be able to exhaust the limit.
const (
	postDeployRate  = 50
	postDeployBurst = 400
)

// postDeployCheck runs the post-deploy checks (svc/internal/postdeploy: approve, decline
// with reason, idempotent replay, 409, 422, 429 with Retry-After, no card number echoed)
// against the promoted version, as a client of its API.
//
// On "local", whose kwok nodes run no container, the version is reached the way deploy's
// canary reaches it there: the same image run as a service against PostgreSQL and Redis,
// here with a service-wide limit the 429 check's bounded burst reaches. On a real
// environment the checks are not run yet: they would have to reach the Service from
// inside the cluster, and the 429 check would spend production's rate limit.
func (m *TransactionValidator) postDeployCheck(ctx context.Context, env, image string) (string, error) {
	if env != "local" {
		return "not run on " + env + " (local only for now)", nil
	}
	password, dbURL, err := canaryDatabaseSecrets()
	if err != nil {
		return "", err
	}
	hmacKey, _, err := randomSecret("postdeploy-pan-hmac-key", 32)
	if err != nil {
		return "", err
	}
	version := dag.Container().From(image).
		WithServiceBinding("postgres", postgresService(password)).
		WithServiceBinding("redis", redisService()).
		WithSecretVariable("DATABASE_URL", dbURL).
		WithSecretVariable("PAN_HMAC_KEY", hmacKey).
		WithEnvVariable("REDIS_ENDPOINT", "redis:6379").
		WithEnvVariable("MAX_TRANSACTIONS_PER_SECOND", strconv.Itoa(postDeployRate)).
		WithEnvVariable("TXV_NONCE", nonce()).
		WithExposedPort(8080).
		AsService(dagger.ContainerAsServiceOpts{UseEntrypoint: true})
	client := m.goEnv().
		WithServiceBinding("transaction-validator", version).
		WithEnvVariable("TXV_NONCE", nonce())
	out, err := run(ctx, client, "post-deploy checks", "go", "run", "./svc/cmd/postdeploy-check",
		"-url", "http://transaction-validator:8080", "-max-burst", strconv.Itoa(postDeployBurst))
	return out, err
}
