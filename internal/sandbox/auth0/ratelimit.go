package auth0

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bucket is one token bucket: Burst requests at once, refilled at PerSecond.
type Bucket struct {
	Burst     int
	PerSecond float64
}

// Bucket names. Auth0 groups Management API endpoints into buckets whose sizes depend on
// the subscription (https://auth0.com/docs/troubleshoot/customer-support/operational-policies/rate-limit-policy).
const (
	BucketGlobal     = "global"      // every endpoint, when a plan has only one bucket
	BucketUsersRead  = "users_read"  // GET /api/v2/users, /users/{id}, /users-by-email
	BucketUsersWrite = "users_write" // POST/PATCH/DELETE on users
	BucketOther      = "other"       // everything else (jobs, roles, resource servers, ...)
)

// PlanBuckets returns the buckets of a plan (nil for "none": unlimited).
func PlanBuckets(plan string) (map[string]Bucket, error) {
	switch plan {
	case "none", "":
		return nil, nil
	case "free":
		return map[string]Bucket{BucketGlobal: {Burst: 2, PerSecond: 2}}, nil
	case "self-service":
		return map[string]Bucket{
			BucketUsersRead:  {Burst: 40, PerSecond: 500.0 / 60},
			BucketUsersWrite: {Burst: 20, PerSecond: 200.0 / 60},
			BucketOther:      {Burst: 10, PerSecond: 150.0 / 60},
		}, nil
	case "enterprise":
		return map[string]Bucket{BucketGlobal: {Burst: 50, PerSecond: 16}}, nil
	}
	return nil, errUnknownPlan(plan)
}

type errUnknownPlan string

func (e errUnknownPlan) Error() string {
	return "auth0 sandbox: unknown plan " + strconv.Quote(string(e)) + " (want free, self-service, enterprise or none)"
}

type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucketState
}

type bucketState struct {
	cfg Bucket
	lim *rate.Limiter
}

func newLimiter(b map[string]Bucket) *limiter {
	if len(b) == 0 {
		return nil
	}
	l := &limiter{buckets: map[string]*bucketState{}}
	for name, c := range b {
		l.buckets[name] = &bucketState{cfg: c, lim: rate.NewLimiter(rate.Limit(c.PerSecond), c.Burst)}
	}
	return l
}

// bucketFor classifies a request.
func (l *limiter) bucketFor(r *http.Request) *bucketState {
	if b, ok := l.buckets[BucketGlobal]; ok {
		return b
	}
	p := r.URL.Path
	if strings.HasPrefix(p, "/api/v2/users") { // users, users/{id}/..., users-by-email
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if b, ok := l.buckets[BucketUsersRead]; ok {
				return b
			}
		} else if b, ok := l.buckets[BucketUsersWrite]; ok {
			return b
		}
	}
	return l.buckets[BucketOther]
}

// take spends one token of the request's bucket at now, sets the x-ratelimit-* headers, and
// reports whether the request may proceed. x-ratelimit-reset is the UNIX second at which the
// bucket will be full again, rounded up: Auth0 documents it as the "remaining time until the
// rate limit (X-RateLimit-Limit) resets", in UTC epoch seconds, with requests "added back"
// as time passes (auth0/docs, rate-limit headers; community "How to tell if you are
// approaching the Rate-Limit"). It is computed after the token is spent.
func (l *limiter) take(w http.ResponseWriter, r *http.Request, now time.Time) bool {
	if l == nil {
		return true
	}
	b := l.bucketFor(r)
	if b == nil {
		return true
	}
	l.mu.Lock()
	ok := b.lim.AllowN(now, 1)
	tokens := b.lim.TokensAt(now)
	l.mu.Unlock()
	remaining := int(math.Floor(tokens))
	if remaining < 0 {
		remaining = 0
	}
	missing := float64(b.cfg.Burst) - tokens
	reset := now
	if missing > 0 && b.cfg.PerSecond > 0 {
		reset = now.Add(time.Duration(missing / b.cfg.PerSecond * float64(time.Second)))
	}
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(b.cfg.Burst))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(reset.UnixNano())/1e9)), 10))
	return ok
}
