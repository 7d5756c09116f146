package validation

import (
	"context"
	"errors"
	"time"

	"github.com/go-kit/kit/endpoint"
)

// MakeValidateEndpoint adapts Service.Validate to a go-kit endpoint taking a Request and
// returning a payment.Result.
func MakeValidateEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		return s.Validate(ctx, request.(Request))
	}
}

// Timeout bounds the whole decision, so a slow store cannot hold a connection forever.
func Timeout(d time.Duration) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next(ctx, request)
		}
	}
}

// ErrOverloaded is a 503: the replica has as many requests in flight as it may.
var ErrOverloaded = errors.New("this replica is at its limit of requests in flight; retry shortly")

// LimitInFlight sheds load early: beyond n requests being decided at once, a request is
// answered 503 overloaded at once rather than queued. Without it, a burst waits on the
// Redis and PostgreSQL pools and every request in it grows slower, until clients time
// out (at 10 to 20 s in issue 21's test) having been answered nothing; shed at once,
// they retry, and their load balancer may pick a replica with room.
func LimitInFlight(n int) endpoint.Middleware {
	slots := make(chan struct{}, n)
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
				return next(ctx, request)
			default:
				return nil, ErrOverloaded
			}
		}
	}
}
