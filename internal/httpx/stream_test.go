package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestStream(t *testing.T) {
	payload := strings.Repeat("0123456789", 10_000)
	t.Run("reads everything, retrying the headers", func(t *testing.T) {
		var hits atomic.Int32
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) == 1 {
				w.WriteHeader(http.StatusBadGateway)
				return
			}
			w.Header().Set("Content-Type", "application/gzip")
			io.WriteString(w, payload)
		}, nil)
		body, h, err := c.Stream(context.Background(), &Request{Path: "/export"})
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		b, err := io.ReadAll(body)
		if err != nil || string(b) != payload || h.Get("Content-Type") != "application/gzip" || hits.Load() != 2 {
			t.Fatalf("len %d err %v hits %d", len(b), err, hits.Load())
		}
	})
	t.Run("size cap", func(t *testing.T) {
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, payload)
		}, func(c *Config) { c.MaxStreamBody = 50_000 })
		body, _, err := c.Stream(context.Background(), &Request{Path: "/export"})
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		b, err := io.ReadAll(body)
		if !errors.Is(err, ErrTooLarge) || len(b) != 50_000 {
			t.Fatalf("read %d bytes, err %v; want 50000 and ErrTooLarge", len(b), err)
		}
		// per-request cap
		body2, _, err := c.Stream(context.Background(), &Request{Path: "/export", MaxBody: 10})
		if err != nil {
			t.Fatal(err)
		}
		defer body2.Close()
		if _, err := io.ReadAll(body2); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("per-request cap: %v", err)
		}
	})
	t.Run("error status", func(t *testing.T) {
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"job not found"}`)
		}, nil)
		_, _, err := c.Stream(context.Background(), &Request{Path: "/export"})
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "job not found") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestStreamIdleTimeout(t *testing.T) {
	idle := func(c *Config) { c.IdleTimeout = 30 * time.Millisecond; c.MaxRetries = 1 }
	t.Run("server never answers", func(t *testing.T) {
		done := make(chan struct{})
		defer close(done)
		var hits atomic.Int32
		c, clk, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			select {
			case <-done:
			case <-r.Context().Done():
			}
		}, idle)
		_, _, err := c.Stream(context.Background(), &Request{Path: "/export"})
		if !errors.Is(err, ErrIdleTimeout) {
			t.Fatalf("err = %v, want ErrIdleTimeout", err)
		}
		if hits.Load() != 2 || len(clk.Sleeps()) != 1 {
			t.Errorf("hits %d sleeps %v: the header wait is retried like a network error", hits.Load(), clk.Sleeps())
		}
	})
	t.Run("server stalls mid-body", func(t *testing.T) {
		done := make(chan struct{})
		defer close(done)
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "first bytes")
			w.(http.Flusher).Flush()
			select {
			case <-done:
			case <-r.Context().Done():
			}
		}, idle)
		body, _, err := c.Stream(context.Background(), &Request{Path: "/export"})
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		b, err := io.ReadAll(body)
		if !errors.Is(err, ErrIdleTimeout) || string(b) != "first bytes" {
			t.Fatalf("read %q, err %v", b, err)
		}
	})
	t.Run("slow consumer is not idle", func(t *testing.T) {
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "abc")
		}, idle)
		body, _, err := c.Stream(context.Background(), &Request{Path: "/export"})
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		time.Sleep(90 * time.Millisecond) // three idle periods without reading
		if b, err := io.ReadAll(body); err != nil || string(b) != "abc" {
			t.Fatalf("read %q, err %v", b, err)
		}
	})
	t.Run("Do has a per-attempt timeout", func(t *testing.T) {
		done := make(chan struct{})
		defer close(done)
		c, _, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-done:
			case <-r.Context().Done():
			}
		}, func(c *Config) { c.Timeout = 30 * time.Millisecond; c.MaxRetries = -1 })
		_, err := c.Do(context.Background(), &Request{Path: "/x"})
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
			t.Fatalf("err = %v", err)
		}
	})
}
