package devserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a throwaway Redis: one node, or a cluster of several masters.
type Redis struct {
	// Endpoint is what REDIS_ENDPOINT should be set to: redis:// or rediss:// with the
	// address of the (first) node.
	Endpoint string
	// CAFile is the CA that signed the server certificate, when TLS is on.
	CAFile  string
	Cluster bool
	Addrs   []string
	dir     string
	procs   []*process
	tls     *tls.Config
}

// RedisOptions tune the server.
type RedisOptions struct {
	// TLS serves only TLS (as ElastiCache with in-transit encryption does).
	TLS bool
	// ClusterNodes > 0 starts that many masters in cluster mode, slots split evenly.
	ClusterNodes int
}

// StartRedis starts the server(s) in a new temporary directory.
func StartRedis(ctx context.Context, o RedisOptions) (*Redis, error) {
	bin, err := findBinary("REDIS_SERVER_BIN", "/usr/bin/redis-server", "redis-server")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "txv-redis-")
	if err != nil {
		return nil, err
	}
	r := &Redis{dir: dir, Cluster: o.ClusterNodes > 0}
	if o.TLS {
		if r.CAFile, err = writeTestPKI(dir); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		pem, _ := os.ReadFile(r.CAFile)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		r.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	n := o.ClusterNodes
	if n == 0 {
		n = 1
	}
	for i := 0; i < n; i++ {
		port, err := freePort()
		if err != nil {
			r.Close()
			return nil, err
		}
		ndir := filepath.Join(dir, strconv.Itoa(port))
		if err := os.MkdirAll(ndir, 0o700); err != nil {
			r.Close()
			return nil, err
		}
		argv := []string{bin, "--bind", "127.0.0.1", "--protected-mode", "yes", "--dir", ndir,
			"--save", "", "--appendonly", "no", "--loglevel", "warning"}
		if o.TLS {
			argv = append(argv, "--port", "0", "--tls-port", strconv.Itoa(port),
				"--tls-cert-file", filepath.Join(dir, "server.crt"), "--tls-key-file", filepath.Join(dir, "server.key"),
				"--tls-ca-cert-file", r.CAFile, "--tls-auth-clients", "no")
			if r.Cluster {
				argv = append(argv, "--tls-cluster", "yes", "--tls-replication", "yes")
			}
		} else {
			argv = append(argv, "--port", strconv.Itoa(port))
		}
		if r.Cluster {
			argv = append(argv, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(ndir, "nodes.conf"),
				"--cluster-node-timeout", "2000")
		}
		logf, err := os.Create(filepath.Join(ndir, "redis.log"))
		if err != nil {
			r.Close()
			return nil, err
		}
		r.procs = append(r.procs, &process{name: "redis-server", argv: argv, dir: ndir, logf: logf})
		r.Addrs = append(r.Addrs, "127.0.0.1:"+strconv.Itoa(port))
	}
	scheme := "redis"
	if o.TLS {
		scheme = "rediss"
	}
	r.Endpoint = scheme + "://" + r.Addrs[0]
	if err := r.Start(ctx); err != nil {
		r.Close()
		return nil, err
	}
	if r.Cluster {
		if err := r.formCluster(ctx); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// Start (re)starts every node and waits until each answers PING.
func (r *Redis) Start(ctx context.Context) error {
	for _, p := range r.procs {
		if err := p.start(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, a := range r.Addrs {
		if err := waitTCP(ctx, a); err != nil {
			return err
		}
		c := r.node(a)
		for {
			err := c.Ping(ctx).Err()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				c.Close()
				return fmt.Errorf("redis %s: %w", a, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
	}
	return nil
}

// node returns a plain client for one node, for administration.
func (r *Redis) node(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, TLSConfig: r.tls, DialTimeout: time.Second})
}

// formCluster splits the 16384 slots between the nodes, introduces them to each other
// and waits for every node to report cluster_state:ok.
func (r *Redis) formCluster(ctx context.Context) error {
	const slots = 16384
	n := len(r.Addrs)
	for i, a := range r.Addrs {
		c := r.node(a)
		lo, hi := i*slots/n, (i+1)*slots/n-1
		err := c.ClusterAddSlotsRange(ctx, lo, hi).Err()
		if err == nil && i > 0 {
			host, port, _ := strings.Cut(r.Addrs[0], ":")
			p, _ := strconv.Atoi(port)
			err = c.ClusterMeet(ctx, host, strconv.Itoa(p)).Err()
		}
		c.Close()
		if err != nil {
			return fmt.Errorf("forming cluster at %s: %w", a, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, a := range r.Addrs {
		c := r.node(a)
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)) {
				break
			}
			if ctx.Err() != nil {
				c.Close()
				return fmt.Errorf("cluster at %s did not converge: %v", a, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.Close()
	}
	return nil
}

// Stop shuts every node down.
func (r *Redis) Stop() {
	for _, p := range r.procs {
		p.stop(syscall.SIGTERM)
	}
}

// Freeze suspends every node (SIGSTOP), so clients see a hung server. Thaw resumes.
func (r *Redis) Freeze() error {
	for _, p := range r.procs {
		if err := p.signalTree(syscall.SIGSTOP); err != nil {
			return err
		}
	}
	return nil
}

// Thaw resumes frozen nodes.
func (r *Redis) Thaw() error {
	for _, p := range r.procs {
		if err := p.signalTree(syscall.SIGCONT); err != nil {
			return err
		}
	}
	return nil
}

// FlushAll empties every node, so tests sharing a server start from nothing.
func (r *Redis) FlushAll(ctx context.Context) error {
	for _, a := range r.Addrs {
		c := r.node(a)
		err := c.FlushAll(ctx).Err()
		c.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Close stops the servers and removes their directory.
func (r *Redis) Close() {
	for _, p := range r.procs {
		p.stop(syscall.SIGTERM)
		p.logf.Close()
	}
	os.RemoveAll(r.dir)
}
