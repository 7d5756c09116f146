package validation

import (
	"context"
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
