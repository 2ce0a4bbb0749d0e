package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/interop/elimity"
	"github.com/ferry-dev/ferry/interop/scimmy"
	"github.com/ferry-dev/ferry/test/internal/ferrytest"
)

// server is one running SCIM service provider.
type server struct {
	kind  string // "scimmy" or "elimity"
	base  string // http://127.0.0.1:PORT/scim/v2
	token string // the bearer token it accepts
}

// servers maps each running server's endpoint to its token, for the runs that reach it.
var servers sync.Map

// newServer records a server started with token. Each server kind takes a token of its
// own, so a run between two of them proves each end is given its own credentials
// (FERRY_FROM_SCIM_TOKEN, FERRY_TO_SCIM_TOKEN), as between two real providers.
func newServer(kind, base, token string) server {
	s := server{kind, base, token}
	servers.Store(s.endpoint(), token)
	return s
}

// tokenFor is the token of the server an endpoint (SRC or DST string) reaches; "" for a
// file.
func tokenFor(end string) string {
	var tok string
	servers.Range(func(k, v any) bool {
		if strings.HasPrefix(end, k.(string)) {
			tok = v.(string)
			return false
		}
		return true
	})
	return tok
}

// tokenOf is the token a server kind is started with.
func tokenOf(kind string) string { return "interop-token-" + kind }

// endpoint is the SRC string that reaches the server.
func (s server) endpoint() string {
	u, _ := url.Parse(s.base)
	return "scim+http://" + u.Host + u.Path
}

// target is the DST string: as a target ferry paces itself to 50 requests/s unless told
// otherwise (rps=), and these servers are ours, on loopback; a server without /Bulk
// (elimity) takes one POST per user.
func (s server) target() string { return s.endpoint() + "?rps=2000" }

func start(t *testing.T, kind string) server {
	t.Helper()
	switch kind {
	case "scimmy":
		return newServer(kind, scimmy.Start(t, tokenOf(kind)), tokenOf(kind))
	case "elimity":
		h, err := elimity.Handler(tokenOf(kind))
		if err != nil {
			t.Fatal(err)
		}
		return newServer(kind, ferrytest.Serve(t, h)+"/scim/v2", tokenOf(kind))
	}
	t.Fatalf("unknown server kind %q", kind)
	return server{}
}

var client = &http.Client{Timeout: 30 * time.Second}

// call sends one SCIM request and decodes the answer into out (when not nil). A status
// of 300 or more is an error carrying the body.
func (s server) call(method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+"/"+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s %s: %d %s", s.kind, method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s %s: %v", s.kind, method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// listPage is a ListResponse.
type listPage struct {
	TotalResults int              `json:"totalResults"`
	StartIndex   int              `json:"startIndex"`
	ItemsPerPage int              `json:"itemsPerPage"`
	Resources    []map[string]any `json:"Resources"`
}

func (s server) page(t *testing.T, endpoint string, q url.Values) listPage {
	t.Helper()
	var p listPage
	if _, err := s.call(http.MethodGet, endpoint+"?"+q.Encode(), nil, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// list reads every resource of an endpoint with startIndex/count paging.
func (s server) list(t *testing.T, endpoint string) []map[string]any {
	t.Helper()
	var all []map[string]any
	for start := 1; ; {
		p := s.page(t, endpoint, url.Values{"startIndex": {strconv.Itoa(start)}, "count": {"100"}})
		all = append(all, p.Resources...)
		start += len(p.Resources)
		if len(p.Resources) == 0 || start > p.TotalResults {
			return all
		}
	}
}

// seed loads users and groups over plain HTTP, as another provisioning client would, and
// returns the users' ids by userName. It reports rather than fails so that both servers
// can be seeded at once.
func seed(s server, users []map[string]any, groups []group) (map[string]string, error) {
	ids := make([]string, len(users))
	var wg sync.WaitGroup
	errs := make(chan error, len(users))
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				var created struct {
					ID string `json:"id"`
				}
				if _, err := s.call(http.MethodPost, "Users", users[i], &created); err != nil {
					errs <- err
					continue
				}
				ids[i] = created.ID
			}
		})
	}
	for i := range users {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("seed %s: %w", s.kind, err)
	}
	idOf := map[string]string{}
	for i, u := range users {
		idOf[u["userName"].(string)] = ids[i]
	}
	for _, g := range groups {
		members := []any{}
		for _, m := range g.members {
			members = append(members, map[string]any{"value": idOf[m]})
		}
		body := map[string]any{"schemas": []any{coreGroupURN}, "displayName": g.name, "members": members}
		if _, err := s.call(http.MethodPost, "Groups", body, nil); err != nil {
			return nil, fmt.Errorf("seed %s: %w", s.kind, err)
		}
	}
	return idOf, nil
}
