package auth0api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
)

// lister talks to a server answering GET /roles with answer(page, perPage).
func lister(t *testing.T, answer func(page, perPage int) (int, string)) *Lister {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		status, body := answer(page, per)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := httpx.New(httpx.Config{Name: "auth0", BaseURL: srv.URL + "/api/v2/", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return New(c)
}

// roles renders roles [from, to) as JSON elements.
func roles(from, to int) string {
	var b []string
	for i := from; i < to; i++ {
		b = append(b, fmt.Sprintf(`{"id":"rol_%d","name":"r%d"}`, i, i))
	}
	return "[" + strings.Join(b, ",") + "]"
}

func TestList(t *testing.T) {
	const n = 230
	envelope := func(page, per int) (int, string) {
		from := min(page*per, n)
		return 200, fmt.Sprintf(`{"start":%d,"limit":%d,"total":%d,"roles":%s}`, from, per, n, roles(from, min(from+per, n)))
	}
	tests := []struct {
		name    string
		answer  func(page, per int) (int, string)
		want    int
		wantErr error
	}{
		{"envelope with total", envelope, n, nil},
		{"bare array (no include_totals)", func(page, per int) (int, string) {
			from := min(page*per, n)
			return 200, roles(from, min(from+per, n))
		}, n, nil},
		{"per_page capped at 50 with a 400", func(page, per int) (int, string) {
			if per > 50 {
				return 400, `{"statusCode":400,"error":"Bad Request","message":"Query validation error: 'Invalid value' on property per_page"}`
			}
			return envelope(page, per)
		}, n, nil},
		{"envelope without total ends at a short page", func(page, per int) (int, string) {
			from := min(page*per, n)
			return 200, fmt.Sprintf(`{"roles":%s}`, roles(from, min(from+per, n)))
		}, n, nil},
		{"the same page forever", func(page, per int) (int, string) { return envelope(0, per) }, 0, core.ErrHostile},
		{"roles not an array", func(int, int) (int, string) { return 200, `{"total":3,"roles":{"id":"x"}}` }, 0, core.ErrHostile},
		{"total not a count", func(int, int) (int, string) { return 200, `{"total":"many","roles":[]}` }, 0, core.ErrHostile},
		{"a role without a name", func(int, int) (int, string) { return 200, `{"total":1,"roles":[{"id":"rol_1"}]}` }, 0, core.ErrHostile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lister(t, tc.answer).Roles(context.Background())
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Fatalf("%d roles, want %d", len(got), tc.want)
			}
			seen := map[string]bool{}
			for _, r := range got {
				if seen[r.ID] {
					t.Fatalf("role %s listed twice", r.ID)
				}
				seen[r.ID] = true
			}
		})
	}
}

// FuzzRolesAnswer serves one body for every page: the lister must end (an answer, or an
// error), never panic, and never list a role without an id and a name.
func FuzzRolesAnswer(f *testing.F) {
	f.Add(`{"start":0,"limit":100,"total":2,"roles":[{"id":"rol_1","name":"a"},{"id":"rol_2","name":"b"}]}`)
	f.Add(`[{"id":"rol_1","name":"a"}]`)
	f.Add(`{"total":1e9,"roles":[{"id":"x","name":"y"}]}`)
	f.Add(`{"roles":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		l := lister(t, func(int, int) (int, string) { return 200, body })
		got, err := l.Roles(context.Background())
		if err != nil {
			return
		}
		for _, r := range got {
			if r.ID == "" || r.Name == "" {
				t.Fatalf("listed a role without id or name: %+v", r)
			}
		}
	})
}
