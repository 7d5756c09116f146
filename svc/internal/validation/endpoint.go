package validation

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-kit/kit/endpoint"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// MakeValidateEndpoint adapts Service.Validate to a go-kit endpoint taking a Request and
// returning a payment.Result.
func MakeValidateEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		return s.Validate(ctx, request.(Request))
	}
}

// RateLimitedError is a 429: the service-wide transaction rate is exhausted.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limit of the validation service reached; retry after %s", e.RetryAfter)
}

// StatusCode is 429 Too Many Requests.
func (e *RateLimitedError) StatusCode() int { return http.StatusTooManyRequests }

// Headers carries Retry-After in whole seconds, rounded up as RFC 9110 requires.
func (e *RateLimitedError) Headers() http.Header {
	secs := int((e.RetryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return http.Header{"Retry-After": []string{strconv.Itoa(secs)}}
}

// RateLimiting admits requests through limiter before they reach the service. It sits
// after decoding, so malformed requests are rejected without spending the budget, and
// before the idempotency claim, so a rejected request leaves no trace. onReject is
// called for each rejection (a metric).
func RateLimiting(limiter payment.RateLimiter, onReject func()) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			ok, retry, err := limiter.Allow(ctx)
			if err != nil {
				return nil, unavailable("rate limiter", err)
			}
			if !ok {
				onReject()
				return nil, &RateLimitedError{RetryAfter: retry}
			}
			return next(ctx, request)
		}
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
