// Package scimgroups reads and changes the Groups of a SCIM 2.0 service provider (RFC 7643
// §4.2, RFC 7644 §3.4, §3.5.2): the SCIM source reads them as its roles catalog and each
// user's memberships, the SCIM sink as its target's catalog, and writes memberships.
//
// Real providers do not put very large member lists in a list answer (the sandbox, like
// several of them, refuses a page with a big group unless members are left out), and
// take only so many member changes per PATCH (Entra ID: 20). So groups are listed with
// excludedAttributes=members, members are read group by group (GET /Groups/{id}), and
// PATCHes are batched, halving the batch on 400 tooMany.
package scimgroups

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/segmentio/encoding/json"
	"golang.org/x/sync/errgroup"

	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/jsonstream"
)

// URNs of the messages sent (RFC 7643 §8.7.1, RFC 7644 §3.5.2).
const (
	GroupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"
	PatchURN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// ErrUnsupported is what a provider without a /Groups endpoint (404, 501) answers.
var ErrUnsupported = errors.New("the SCIM provider has no /Groups endpoint")

// Group is a group by id and displayName, with its members' user ids (nil when not read).
type Group struct {
	ID      string
	Name    string
	Members []string
}

// PageSize is the count asked for per /Groups page.
const PageSize = 100

// DefaultPatchMembers is the first batch of member changes per PATCH. Providers differ
// (Entra ID takes 20 per request; others take hundreds): start at 100 and halve on 400
// tooMany, so a strict provider costs a few refused requests, not 5x the requests for all.
const DefaultPatchMembers = 100

type wireGroup struct {
	ID          json.RawMessage `json:"id"`
	DisplayName string          `json:"displayName"`
	Members     []struct {
		Value json.RawMessage `json:"value"`
		Type  string          `json:"type"`
	} `json:"members"`
}

func (w *wireGroup) group(withMembers bool) Group {
	g := Group{ID: jsonstream.IDText(w.ID), Name: w.DisplayName}
	if withMembers {
		g.Members = make([]string, 0, len(w.Members))
		for _, m := range w.Members {
			// Nested groups (type "Group") are not users: memberships are per user.
			if id := jsonstream.IDText(m.Value); id != "" && (m.Type == "" || strings.EqualFold(m.Type, "User")) {
				g.Members = append(g.Members, id)
			}
		}
	}
	return g
}

// List reads every group's id and displayName, without members, page by page.
func List(ctx context.Context, c *httpx.Client) ([]Group, error) {
	var out []Group
	seen := map[string]bool{}
	for start := 1; ; {
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(PageSize)}, "excludedAttributes": {"members"}}
		resp, err := c.Do(ctx, &httpx.Request{Path: "Groups", Query: q, AllowStatus: []int{http.StatusNotFound, http.StatusNotImplemented}})
		if err != nil {
			return nil, fmt.Errorf("list groups at %d: %w", start, err)
		}
		if resp.Status != http.StatusOK {
			if start == 1 {
				return nil, ErrUnsupported
			}
			return nil, fmt.Errorf("list groups at %d: status %d", start, resp.Status)
		}
		var page struct {
			TotalResults int         `json:"totalResults"`
			Resources    []wireGroup `json:"Resources"`
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			return nil, fmt.Errorf("list groups at %d: not a ListResponse: %v", start, err)
		}
		fresh := 0
		for i := range page.Resources {
			g := page.Resources[i].group(false)
			if g.ID == "" || seen[g.ID] {
				continue
			}
			seen[g.ID] = true
			fresh++
			out = append(out, g)
		}
		start += len(page.Resources)
		// An empty page, or one with nothing new, ends the walk: a server that repeats
		// itself must not loop us forever.
		if len(page.Resources) == 0 || fresh == 0 || start > page.TotalResults {
			return out, nil
		}
	}
}

// Members reads one group's members (user ids), whatever its size.
func Members(ctx context.Context, c *httpx.Client, id string) ([]string, error) {
	var w wireGroup
	q := url.Values{"attributes": {"members"}}
	if err := c.GetJSON(ctx, "Groups/"+url.PathEscape(id), q, &w); err != nil {
		return nil, fmt.Errorf("read the members of group %s: %w", id, err)
	}
	return w.group(true).Members, nil
}

// ListWithMembers is List, then the members of every group, par groups at a time.
func ListWithMembers(ctx context.Context, c *httpx.Client, par int) ([]Group, error) {
	gs, err := List(ctx, c)
	if err != nil {
		return nil, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, par))
	for i := range gs {
		g.Go(func() error {
			ms, err := Members(gctx, c, gs[i].ID)
			if err != nil {
				return fmt.Errorf("group %q: %w", gs[i].Name, err)
			}
			gs[i].Members = ms
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return gs, nil
}

// FilterEscape escapes a string for a double-quoted SCIM filter value (RFC 7644 §3.4.2.2
// takes JSON string syntax).
func FilterEscape(s string) string {
	b, _ := json.Marshal(s)
	return strings.TrimSuffix(strings.TrimPrefix(string(b), `"`), `"`)
}

// Find looks a group up by displayName (compared as the provider compares it).
func Find(ctx context.Context, c *httpx.Client, name string) (Group, bool, error) {
	q := url.Values{"filter": {`displayName eq "` + FilterEscape(name) + `"`}, "excludedAttributes": {"members"}}
	var page struct {
		Resources []wireGroup `json:"Resources"`
	}
	if err := c.GetJSON(ctx, "Groups", q, &page); err != nil {
		return Group{}, false, fmt.Errorf("look up group %q: %w", name, err)
	}
	for i := range page.Resources {
		if g := page.Resources[i].group(false); strings.EqualFold(g.Name, name) && g.ID != "" {
			return g, true, nil
		}
	}
	return Group{}, false, nil
}

// Create creates an empty group; one that exists already (409) is found and returned, so
// a re-run or a race with another client creates nothing twice.
func Create(ctx context.Context, c *httpx.Client, name string) (Group, error) {
	body := map[string]any{"schemas": []string{GroupURN}, "displayName": name}
	var w wireGroup
	resp, err := c.DoJSON(ctx, &httpx.Request{Method: http.MethodPost, Path: "Groups", AllowStatus: []int{http.StatusConflict}}, body, &w)
	if err != nil {
		return Group{}, fmt.Errorf("create group %q: %w", name, err)
	}
	if resp.Status == http.StatusConflict {
		g, ok, err := Find(ctx, c, name)
		if err != nil {
			return Group{}, err
		}
		if !ok {
			return Group{}, fmt.Errorf("create group %q: the provider says it exists (409) but no group has that displayName", name)
		}
		return g, nil
	}
	g := w.group(false)
	if g.ID == "" {
		return Group{}, fmt.Errorf("create group %q: the answer carries no id", name)
	}
	return g, nil
}

// Patcher sends member changes in batches the provider accepts. One Patcher serves every
// group of a target: what one group's PATCH taught about the limit holds for all.
//
// PATCHes to one group are sent one at a time, whatever the caller's concurrency. A
// server may apply a PATCH as read, modify, write of the whole group without a lock
// between (SCIMMY hands its application a read and then a write; a store that awaits
// in between interleaves): two concurrent "add members" then each write what they read
// plus their own batch, and one batch is lost while both answer 200. Different groups
// still go in parallel.
type Patcher struct {
	c      *httpx.Client
	size   atomic.Int64
	mu     sync.Mutex // serializes the halving, so concurrent refusals halve once
	groups sync.Map   // group id -> *sync.Mutex
}

// NewPatcher starts at DefaultPatchMembers members per PATCH (start > 0 overrides).
func NewPatcher(c *httpx.Client, start int) *Patcher {
	p := &Patcher{c: c}
	if start <= 0 {
		start = DefaultPatchMembers
	}
	p.size.Store(int64(start))
	return p
}

// BatchSize is the members per PATCH the Patcher currently sends.
func (p *Patcher) BatchSize() int { return int(p.size.Load()) }

// Add adds users to a group (RFC 7644 §3.5.2.1: op add, path members).
func (p *Patcher) Add(ctx context.Context, groupID string, ids []string) error {
	return p.run(ctx, groupID, ids, func(chunk []string) []any {
		vals := make([]any, len(chunk))
		for i, id := range chunk {
			vals[i] = map[string]string{"value": id}
		}
		return []any{map[string]any{"op": "add", "path": "members", "value": vals}}
	})
}

// Remove takes users out of a group, one operation per user with a value filter
// (RFC 7644 §3.5.2.2: path members[value eq "id"]), which every provider that supports
// removal takes.
func (p *Patcher) Remove(ctx context.Context, groupID string, ids []string) error {
	return p.run(ctx, groupID, ids, func(chunk []string) []any {
		ops := make([]any, len(chunk))
		for i, id := range chunk {
			ops[i] = map[string]any{"op": "remove", "path": `members[value eq "` + FilterEscape(id) + `"]`}
		}
		return ops
	})
}

func (p *Patcher) run(ctx context.Context, groupID string, ids []string, ops func([]string) []any) error {
	l, _ := p.groups.LoadOrStore(groupID, new(sync.Mutex))
	l.(*sync.Mutex).Lock()
	defer l.(*sync.Mutex).Unlock()
	for len(ids) > 0 {
		n := min(p.BatchSize(), len(ids))
		body := map[string]any{"schemas": []string{PatchURN}, "Operations": ops(ids[:n])}
		// Adding a member twice or removing one gone is a no-op (RFC 7644 §3.5.2): safe
		// to resend. No excludedAttributes=members to shrink the answer, although RFC 7644
		// §3.9 allows it on PATCH: SCIMMY applies it to the group it reads before patching,
		// so every PATCH so sent replaced the members with its own batch and answered 200.
		resp, err := p.c.DoJSON(ctx, &httpx.Request{Method: http.MethodPatch, Path: "Groups/" + url.PathEscape(groupID),
			Idempotent: true, AllowStatus: []int{http.StatusBadRequest}}, body, nil)
		if err != nil {
			return fmt.Errorf("patch the members of group %s: %w", groupID, err)
		}
		if resp.Status == http.StatusBadRequest {
			var e struct {
				ScimType string `json:"scimType"`
				Detail   string `json:"detail"`
			}
			_ = json.Unmarshal(resp.Body, &e)
			if e.ScimType != "tooMany" || n == 1 {
				return fmt.Errorf("patch the members of group %s: 400 %s: %s", groupID, e.ScimType, p.c.Redact(e.Detail))
			}
			p.mu.Lock()
			if int(p.size.Load()) >= n {
				p.size.Store(int64(max(1, n/2)))
			}
			p.mu.Unlock()
			continue
		}
		ids = ids[n:]
	}
	return nil
}
