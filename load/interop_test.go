package load

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/interop/scimmy"
)

// interopServer starts interop/server.js (SCIMMY); see package interop/scimmy.
func interopServer(t *testing.T, extraEnv ...string) string {
	t.Helper()
	return scimmy.Start(t, "interop-token", extraEnv...)
}

// listAll reads every user back with plain GET /Users paging.
func listAll(t *testing.T, base string) []map[string]any {
	t.Helper()
	var all []map[string]any
	for start := 1; ; {
		req, _ := http.NewRequest(http.MethodGet, base+"/Users?startIndex="+strconv.Itoa(start)+"&count=100", nil)
		req.Header.Set("Authorization", "Bearer interop-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /Users: %d %s", resp.StatusCode, body)
		}
		var page struct {
			TotalResults int              `json:"totalResults"`
			Resources    []map[string]any `json:"Resources"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Resources...)
		start += len(page.Resources)
		if len(page.Resources) == 0 || start > page.TotalResults {
			return all
		}
	}
}

func TestInteropSCIMMY(t *testing.T) {
	const n = 200
	recs := scimUsers(n)
	for _, mode := range []string{"bulk", "no bulk"} {
		t.Run(mode, func(t *testing.T) {
			base := interopServer(t)
			u, _ := url.Parse(base)
			dst := "scim+http://" + u.Host + u.Path
			open := func(upsert bool) *SCIM {
				s, err := Open(context.Background(), dst, core.Options{Getenv: env("SCIM_TOKEN", "interop-token"), Upsert: upsert, Concurrency: 4})
				if err != nil {
					t.Fatal(err)
				}
				sc := s.(*SCIM)
				if mode == "no bulk" {
					sc.bulkOff.Store(true)
				}
				return sc
			}
			sum, reasons := migrate(t, core.FormatSCIM, recs, open(false), 4)
			if sum.Created != n || sum.Rejected != 0 {
				t.Fatalf("%+v %v", sum, first(reasons))
			}
			got := listAll(t, base)
			if len(got) != n {
				t.Fatalf("server holds %d users, want %d", len(got), n)
			}
			byName := map[string]map[string]any{}
			for _, g := range got {
				name, _ := g["userName"].(string)
				byName[name] = g
			}
			for _, r := range recs {
				var want struct {
					UserName string `json:"userName"`
					Emails   []struct {
						Value string `json:"value"`
					} `json:"emails"`
				}
				_ = json.Unmarshal(r, &want)
				g := byName[want.UserName]
				if g == nil {
					t.Errorf("user %q missing", want.UserName)
					continue
				}
				emails, _ := g["emails"].([]any)
				if len(emails) != len(want.Emails) || emails[0].(map[string]any)["value"] != want.Emails[0].Value {
					t.Errorf("user %q: emails %v, want %v", want.UserName, emails, want.Emails)
				}
			}
			sum, reasons = migrate(t, core.FormatSCIM, recs, open(true), 4)
			if sum.Created != 0 || sum.Rejected != 0 || sum.Skipped != n {
				t.Fatalf("upsert re-run: %+v %v", sum, first(reasons))
			}
			if got := listAll(t, base); len(got) != n {
				t.Fatalf("server holds %d users after the re-run, want %d", len(got), n)
			}
		})
	}
}
