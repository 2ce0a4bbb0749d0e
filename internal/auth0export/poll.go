package auth0export

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/ferry-dev/ferry/internal/httpx"
)

// Job is GET /api/v2/jobs/{id} for an export.
type Job struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
	Location  string `json:"location"`
	Format    string `json:"format"`
	TimeLeft  int    `json:"time_left_seconds"`
}

// Poller waits for an export job. Initial is the first wait between polls, and the
// shortest when Auth0's time_left estimate says the job is nearly done; the wait grows
// ×1.5 up to MaxWait; Timeout gives up on a job that does not complete. Now and Pause
// replace the clock and the sleep (tests); nil means the real ones.
type Poller struct {
	API                       *httpx.Client // the Management API client (BaseURL …/api/v2/)
	Initial, MaxWait, Timeout time.Duration
	Now                       func() time.Time
	Pause                     func(ctx context.Context, d time.Duration) error
}

// Await polls job id until it is completed and returns its (fresh) location, unchecked:
// pass it to CheckLocation. A completed job without a location matches ErrHostile.
func (p *Poller) Await(ctx context.Context, id string) (string, error) {
	start := p.now()
	wait := p.Initial
	for {
		var j Job
		if err := p.API.GetJSON(ctx, "jobs/"+url.PathEscape(id), nil, &j); err != nil {
			return "", fmt.Errorf("auth0: export job %s: %w", id, err)
		}
		switch j.Status {
		case "completed":
			if j.Location == "" {
				return "", refuse("auth0: export job %s: completed without a location", id)
			}
			return j.Location, nil
		case "failed":
			return "", fmt.Errorf("auth0: export job %s failed", id)
		case "pending", "processing", "":
		default:
			return "", fmt.Errorf("auth0: export job %s: unknown status %q", id, j.Status)
		}
		if p.now().Sub(start) > p.Timeout {
			return "", fmt.Errorf("auth0: export job %s: not completed after %s", id, p.Timeout)
		}
		d := wait
		if j.TimeLeft > 0 {
			// Auth0's own estimate: look again about half-way to it.
			d = min(max(time.Duration(j.TimeLeft)*time.Second/2, p.Initial), wait)
		}
		if err := p.pause(ctx, d); err != nil {
			return "", err
		}
		wait = min(wait*3/2, p.MaxWait)
	}
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Poller) pause(ctx context.Context, d time.Duration) error {
	if p.Pause != nil {
		return p.Pause(ctx, d)
	}
	return httpx.Sleep(ctx, d)
}
