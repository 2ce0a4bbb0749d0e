package extract

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// SCIMServer is what the SCIM source learns of the service provider once, at start, from
// its discovery endpoints (RFC 7644 §4): /ServiceProviderConfig (RFC 7643 §5, RFC 9865's
// pagination block), /Schemas (§7) and /ResourceTypes (§6). Every member is best effort: a
// server that publishes nothing is read with RFC 7644's defaults (paging by index).
type SCIMServer struct {
	// Config is the server's configuration; HasConfig says it published one.
	Config    schemas.ServiceProviderConfig
	HasConfig bool
	// Extensions are the User resource type's schemaExtensions, when /ResourceTypes names
	// them, else every extension /Schemas lists.
	Extensions []schemas.SchemaExtension
	// Definitions are the custom extensions' schemas (not core, enterprise or ferry's own),
	// by URN lower-cased: their values are checked by type on read.
	Definitions map[string]*schemas.Schema
	// Notes say what could not be learned, and why (for the log; never fatal).
	Notes []string
}

// CursorPaging reports whether the server advertises RFC 9865 cursors.
func (d *SCIMServer) CursorPaging() bool {
	return d.Config.Pagination != nil && d.Config.Pagination.Cursor
}

// IndexPaging reports whether the server pages by startIndex: RFC 7644 servers all do;
// an RFC 9865 server may say it does not.
func (d *SCIMServer) IndexPaging() bool {
	p := d.Config.Pagination
	return p == nil || p.Index == nil || *p.Index
}

// Declares reports whether the server names the extension urn for Users.
func (d *SCIMServer) Declares(urn string) bool {
	for _, e := range d.Extensions {
		if strings.EqualFold(e.Schema, urn) {
			return true
		}
	}
	return false
}

// Summary is one line for the log: what the run will rely on.
func (d *SCIMServer) Summary() string {
	c := &d.Config
	var b strings.Builder
	paging := "index"
	switch {
	case d.CursorPaging() && d.IndexPaging():
		paging = "cursor and index"
	case d.CursorPaging():
		paging = "cursor"
	}
	fmt.Fprintf(&b, "paging %s", paging)
	if c.Filter.MaxResults > 0 {
		fmt.Fprintf(&b, ", maxResults %d", c.Filter.MaxResults)
	}
	fmt.Fprintf(&b, ", filter %v, sort %v, etag %v", c.Filter.Supported, c.Sort.Supported, c.Etag.Supported)
	if c.Bulk.Supported {
		fmt.Fprintf(&b, ", bulk %d ops / %d bytes", c.Bulk.MaxOperations, c.Bulk.MaxPayloadSize)
	}
	exts := make([]string, 0, len(d.Extensions))
	for _, e := range d.Extensions {
		exts = append(exts, e.Schema)
	}
	sort.Strings(exts)
	if len(exts) > 0 {
		fmt.Fprintf(&b, ", extensions %s", strings.Join(exts, " "))
	}
	if len(d.Notes) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(d.Notes, "; "))
	}
	return b.String()
}

// discoverServer reads the three discovery documents. A 404/501 (or any failure) of one
// leaves its part at the default and says so in Notes.
func discoverServer(ctx context.Context, api *httpx.Client) *SCIMServer {
	d := &SCIMServer{Definitions: map[string]*schemas.Schema{}}
	if body, ok := d.fetch(ctx, api, "ServiceProviderConfig"); ok {
		if c, err := schemas.ParseServiceProviderConfig(body); err != nil {
			d.Notes = append(d.Notes, err.Error())
		} else {
			d.Config, d.HasConfig = *c, true
		}
	}
	var listed []string
	if body, ok := d.fetch(ctx, api, "Schemas"); ok {
		defs, err := schemas.ParseSchemas(body)
		if err != nil {
			d.Notes = append(d.Notes, err.Error())
		}
		for i := range defs {
			id := defs[i].ID
			if strings.EqualFold(id, schemas.CoreUserURN) || strings.EqualFold(id, schemas.CoreGroupURN) {
				continue
			}
			listed = append(listed, id)
			if schemas.IsExtensionURN(id) {
				d.Definitions[strings.ToLower(id)] = &defs[i]
			}
		}
	}
	if body, ok := d.fetch(ctx, api, "ResourceTypes"); ok {
		rts, err := schemas.ParseResourceTypes(body)
		if err != nil {
			d.Notes = append(d.Notes, err.Error())
		} else if exts, ok := schemas.UserExtensions(rts); ok {
			d.Extensions = exts
			return d
		}
	}
	// No User resource type: a provider publishes the schemas it implements.
	for _, id := range listed {
		d.Extensions = append(d.Extensions, schemas.SchemaExtension{Schema: id})
	}
	return d
}

func (d *SCIMServer) fetch(ctx context.Context, api *httpx.Client, path string) ([]byte, bool) {
	resp, err := api.Do(ctx, &httpx.Request{Path: path,
		AllowStatus: []int{http.StatusNotFound, http.StatusNotImplemented, http.StatusForbidden, http.StatusBadRequest}})
	switch {
	case err != nil:
		d.Notes = append(d.Notes, fmt.Sprintf("%s: %v", path, err))
		return nil, false
	case resp.Status != http.StatusOK:
		d.Notes = append(d.Notes, fmt.Sprintf("%s: HTTP %d, using defaults", path, resp.Status))
		return nil, false
	}
	return resp.Body, true
}

// checkExtensions validates a user's custom extension values against the server's own
// definitions: a value of the wrong type (a string badge where the schema says integer),
// an attribute the schema does not define, a required one missing (unless the server never
// returns it) is a rejection naming the user and the attribute, not a silent pass into a
// target that would refuse or coerce it. Users of a server without custom definitions
// cost nothing here.
func (d *SCIMServer) checkExtensions(item []byte) error {
	if d == nil || len(d.Definitions) == 0 {
		return nil
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(item, &top) != nil {
		return nil // not an object: the decoder says so in its own words
	}
	var vs schemas.Violations
	for k, v := range top {
		def := d.Definitions[strings.ToLower(k)]
		if def == nil || string(v) == "null" {
			continue
		}
		vs = append(vs, schemas.ValidateExtension(def, v)...)
	}
	if len(vs) == 0 {
		return nil
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].Path < vs[j].Path })
	var u struct {
		UserName string `json:"userName"`
	}
	json.Unmarshal(item, &u)
	return fmt.Errorf("user %q: %w (by the server's /Schemas definition)", u.UserName, vs)
}

var _ core.ExtensionSource = (*SCIM)(nil)

// Extensions implements core.ExtensionSource: the custom extensions the server declares
// for Users, which are all its users can carry.
func (s *SCIM) Extensions(ctx context.Context) []string {
	var out []string
	for _, e := range s.Server(ctx).Extensions {
		if schemas.IsExtensionURN(e.Schema) {
			out = append(out, e.Schema)
		}
	}
	return out
}
