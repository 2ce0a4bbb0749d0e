package auth0

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func rl(t *testing.T, r resp) (limit, remaining int, reset int64) {
	t.Helper()
	var err error
	if limit, err = strconv.Atoi(r.header.Get("X-RateLimit-Limit")); err != nil {
		t.Fatalf("x-ratelimit-limit %q", r.header.Get("X-RateLimit-Limit"))
	}
	if remaining, err = strconv.Atoi(r.header.Get("X-RateLimit-Remaining")); err != nil {
		t.Fatalf("x-ratelimit-remaining %q", r.header.Get("X-RateLimit-Remaining"))
	}
	if reset, err = strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64); err != nil {
		t.Fatalf("x-ratelimit-reset %q", r.header.Get("X-RateLimit-Reset"))
	}
	return
}

func TestRateLimitHeadersAnd429(t *testing.T) {
	cases := []struct {
		plan      string
		burst     int
		perSecond float64
	}{
		{"free", 2, 2},
		{"enterprise", 50, 16},
		{"self-service", 40, 500.0 / 60}, // users read bucket
	}
	for _, c := range cases {
		t.Run(c.plan, func(t *testing.T) {
			tn := newTenant(t, Config{Users: 3, Plan: c.plan})
			for k := 1; k <= c.burst; k++ {
				r := tn.get("/api/v2/users")
				if r.status != 200 {
					t.Fatalf("request %d: %d %s", k, r.status, r.body)
				}
				limit, remaining, reset := rl(t, r)
				missing := float64(k)
				wantReset := t0.Add(time.Duration(missing / c.perSecond * float64(time.Second)))
				if limit != c.burst || remaining != c.burst-k || reset != (wantReset.Add(time.Second-1)).Unix() {
					t.Fatalf("request %d: limit %d remaining %d reset %d (want %d %d %d)", k, limit, remaining, reset, c.burst, c.burst-k, wantReset.Add(time.Second-1).Unix())
				}
			}
			r := tn.get("/api/v2/users")
			if r.status != http.StatusTooManyRequests {
				t.Fatalf("past the burst: %d", r.status)
			}
			if e := r.apiErr(t); e.ErrorCode != "too_many_requests" || e.Message == "" {
				t.Fatalf("429 body %+v", e)
			}
			if _, remaining, reset := rl(t, r); remaining != 0 || reset <= t0.Unix() {
				t.Fatalf("429 headers remaining %d reset %d", remaining, reset)
			}
			// A refill period later one request passes again.
			tn.clock.Advance(time.Duration(float64(time.Second) / c.perSecond))
			if r := tn.get("/api/v2/users"); r.status != 200 {
				t.Fatalf("after refill: %d", r.status)
			}
		})
	}
}

func TestSelfServiceBucketsAreSeparate(t *testing.T) {
	tn := newTenant(t, Config{Users: 3, Plan: "self-service"})
	for k := 0; k < 40; k++ {
		tn.get("/api/v2/users")
	}
	if r := tn.get("/api/v2/users"); r.status != 429 {
		t.Fatalf("users read bucket not exhausted: %d", r.status)
	}
	r := tn.get("/api/v2/roles")
	if r.status != 200 {
		t.Fatalf("other bucket throttled by users reads: %d", r.status)
	}
	if limit, _, _ := rl(t, r); limit != 10 {
		t.Fatalf("other bucket limit %d", limit)
	}
	r = tn.do(http.MethodDelete, "/api/v2/users/auth0%7Cnobody", nil, "")
	if limit, _, _ := rl(t, r); r.status != 204 || limit != 20 {
		t.Fatalf("users write bucket: %d limit %d", r.status, limit)
	}
}

func TestRateLimitAppliesBeforeAuthAndPlanNone(t *testing.T) {
	tn := newTenant(t, Config{Plan: "free"})
	tn.token = ""
	r := tn.get("/api/v2/users")
	if r.status != 401 || r.header.Get("X-RateLimit-Limit") != "2" {
		t.Fatalf("401 without rate-limit headers: %d %v", r.status, r.header)
	}
	none := newTenant(t, Config{Plan: "none"})
	for k := 0; k < 200; k++ {
		if r := none.get("/api/v2/users"); r.status != 200 || r.header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("plan none: %d %v", r.status, r.header)
		}
	}
	custom := newTenant(t, Config{Plan: "free", Buckets: map[string]Bucket{BucketGlobal: {Burst: 5, PerSecond: 1}}})
	if limit, _, _ := rl(t, custom.get("/api/v2/users")); limit != 5 {
		t.Fatalf("custom bucket limit %d", limit)
	}
	if _, err := New(Config{Plan: "gold"}); err == nil {
		t.Fatal("unknown plan accepted")
	}
}
