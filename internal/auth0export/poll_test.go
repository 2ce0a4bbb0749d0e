package auth0export

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/ferry-dev/ferry/internal/httpx"
)

// jobServer answers GET /api/v2/jobs/ID with answers[i] on the i-th poll (the last one
// thereafter).
func jobServer(t *testing.T, answers ...string) *httpx.Client {
	t.Helper()
	n := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/jobs/job_1" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, answers[min(n, len(answers)-1)])
		n++
	}))
	t.Cleanup(ts.Close)
	c, err := httpx.New(httpx.Config{Name: "auth0", BaseURL: ts.URL + "/api/v2/", Limiter: httpx.NewLimiter(rate.Inf, 1), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAwait(t *testing.T) {
	const loc = "https://user-exports.auth0.com/job_1/t.json.gz"
	done := `{"status":"completed","location":"` + loc + `"}`
	for _, tc := range []struct {
		name    string
		answers []string
		want    string // error text, "" for loc
		waits   []time.Duration
		hostile bool
	}{
		{name: "at once", answers: []string{done}},
		{name: "backoff", answers: []string{`{"status":"pending"}`, `{"status":"processing"}`, `{}`, `{"status":"processing"}`, done},
			waits: []time.Duration{time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond, 3 * time.Second}},
		{name: "time_left shortens", answers: []string{`{"status":"processing","time_left_seconds":2}`, `{"status":"processing","time_left_seconds":1}`, done},
			waits: []time.Duration{time.Second, time.Second}},
		{name: "time_left never lengthens", answers: []string{`{"status":"processing","time_left_seconds":600}`, done},
			waits: []time.Duration{time.Second}},
		{name: "failed", answers: []string{`{"status":"failed"}`}, want: "auth0: export job job_1 failed"},
		{name: "unknown", answers: []string{`{"status":"lost"}`}, want: `auth0: export job job_1: unknown status "lost"`},
		{name: "no location", answers: []string{`{"status":"completed"}`}, want: "auth0: export job job_1: completed without a location", hostile: true},
		{name: "timeout", answers: []string{`{"status":"pending"}`}, want: "auth0: export job job_1: not completed after 10s",
			waits: []time.Duration{time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond, 3 * time.Second, 3 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1e9, 0)
			var waits []time.Duration
			p := Poller{API: jobServer(t, tc.answers...), Initial: time.Second, MaxWait: 3 * time.Second, Timeout: 10 * time.Second,
				Now: func() time.Time { return now },
				Pause: func(_ context.Context, d time.Duration) error {
					waits = append(waits, d)
					now = now.Add(d)
					return nil
				}}
			got, err := p.Await(context.Background(), "job_1")
			if tc.want == "" {
				if err != nil || got != loc {
					t.Fatalf("Await = %q, %v; want %q", got, err, loc)
				}
			} else if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if errors.Is(err, ErrHostile) != tc.hostile {
				t.Errorf("errors.Is(%v, ErrHostile) = %v", err, !tc.hostile)
			}
			if fmt.Sprint(waits) != fmt.Sprint(tc.waits) {
				t.Errorf("waits %v, want %v", waits, tc.waits)
			}
		})
	}
}

func TestAwaitPauseError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := Poller{API: jobServer(t, `{"status":"pending"}`), Initial: time.Second, MaxWait: time.Second, Timeout: time.Hour}
	if _, err := p.Await(ctx, "job_1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
