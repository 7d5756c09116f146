// Package redisstore implements the shared, cross-replica state on Redis: admission (the
// GCRA rate limit, idempotency claims and velocity counters, in one pipeline). It works
// with one Redis and with ElastiCache in cluster mode over TLS; every command and script
// touches a single key, so the cluster's hash slots never need to line up.
package redisstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure the client.
type Options struct {
	// Endpoint is redis://host:port[/db], rediss://host:port (TLS) or host:port.
	Endpoint string
	// ClusterMode uses the cluster client, which discovers every shard from Endpoint
	// (ElastiCache's configuration endpoint).
	ClusterMode bool
	Username    string
	Password    string
	// CAFile adds a CA bundle to the system roots for TLS (ElastiCache's certificates
	// chain to public roots, so production leaves it empty).
	CAFile string
	// Timeout bounds dialling, each read and write, and waiting for a pooled connection.
	Timeout  time.Duration
	PoolSize int
}

// NewClient returns a single-node or cluster client as the options say.
func NewClient(o Options) (redis.UniversalClient, error) {
	addr, useTLS, db, user, pass, err := parseEndpoint(o.Endpoint)
	if err != nil {
		return nil, err
	}
	if o.Username != "" {
		user = o.Username
	}
	if o.Password != "" {
		pass = o.Password
	}
	var tlsConf *tls.Config
	if useTLS {
		host, _, _ := strings.Cut(addr, ":")
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("redis CA file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, errors.New("redis CA file holds no PEM certificate")
			}
			tlsConf.RootCAs = pool
		}
	}
	if o.ClusterMode {
		if db != 0 {
			return nil, errors.New("REDIS_ENDPOINT: cluster mode has no databases other than 0")
		}
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: []string{addr}, Username: user, Password: pass, TLSConfig: tlsConf,
			DialTimeout: o.Timeout, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, PoolTimeout: o.Timeout,
			PoolSize: o.PoolSize, ContextTimeoutEnabled: true,
			// Replicas answer nothing here: every command writes or must read its writes.
			ReadOnly: false,
			// The cluster client re-sends a pipeline after a time-out up to MaxRedirects
			// times (MaxRetries is already -1 for it): see noRetries.
			MaxRedirects: noRetries,
		}), nil
	}
	return redis.NewClient(&redis.Options{
		Addr: addr, DB: db, Username: user, Password: pass, TLSConfig: tlsConf,
		DialTimeout: o.Timeout, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout, PoolTimeout: o.Timeout,
		PoolSize: o.PoolSize, ContextTimeoutEnabled: true,
		MaxRetries: noRetries,
	}), nil
}

// noRetries turns off go-redis's own re-sending (-1 means none; 0 means the default, 3).
// A command that timed out may have run: Redis stalls, then runs what it had read. The
// admission pipeline spends the rate limit, which a second send would spend twice, and
// before the claim was kept by request id a second send found its own claim and answered
// 409 to a brand-new key (issue 21). Re-sending also multiplies the time a request waits
// on a stalled Redis by the number of tries, past REDIS_TIMEOUT's promise. The client that
// gets the 503 retries instead, with its Idempotency-Key. In cluster mode the same option
// (MaxRedirects) also stops following MOVED and ASK within a call: during a resharding a
// call may fail with 503, and the client reloads the slot map for the next one.
const noRetries = -1

func parseEndpoint(ep string) (addr string, useTLS bool, db int, user, pass string, err error) {
	if !strings.Contains(ep, "://") {
		return ep, false, 0, "", "", nil
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", false, 0, "", "", errors.New("REDIS_ENDPOINT is not a valid URL")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return "", false, 0, "", "", errors.New("REDIS_ENDPOINT scheme must be redis or rediss")
	}
	addr = u.Host
	if u.Port() == "" {
		addr += ":6379"
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if _, err := fmt.Sscanf(p, "%d", &db); err != nil {
			return "", false, 0, "", "", errors.New("REDIS_ENDPOINT path must be a database number")
		}
	}
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	return addr, u.Scheme == "rediss", db, user, pass, nil
}
