package scim

import (
	"net/http"
	"strings"

	"github.com/segmentio/encoding/json"
)

// ServiceProviderConfig returns the configuration document (RFC 7643 §5) with the RFC 9865
// pagination block.
func (s *Server) ServiceProviderConfig(base string) map[string]any {
	return map[string]any{
		"schemas":          []string{SPConfigURN},
		"documentationUri": "https://www.rfc-editor.org/rfc/rfc7644",
		"patch":            map[string]any{"supported": true},
		"bulk": map[string]any{
			"supported": true, "maxOperations": s.cfg.BulkMaxOperations, "maxPayloadSize": s.cfg.BulkMaxPayload,
		},
		"filter":         map[string]any{"supported": true, "maxResults": s.cfg.MaxPageSize},
		"changePassword": map[string]any{"supported": true},
		"sort":           map[string]any{"supported": true},
		"etag":           map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "Authentication with a bearer token (RFC 6750)",
			"specUri":     "https://www.rfc-editor.org/info/rfc6750",
			"primary":     true,
		}},
		"pagination": map[string]any{
			"cursor":                  true,
			"index":                   true,
			"defaultPaginationMethod": "index",
			"defaultPageSize":         s.cfg.DefaultPageSize,
			"maxPageSize":             s.cfg.MaxPageSize,
			"cursorTimeout":           int(s.cfg.CursorTimeout.Seconds()),
		},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": base + "/ServiceProviderConfig"},
	}
}

func (s *Server) schemaResources(base string) []any {
	all := append([]*schema{s.ss.core}, s.ss.ext...)
	out := make([]any, 0, len(all))
	for _, sc := range all {
		var m map[string]any
		_ = json.Unmarshal(sc.raw, &m)
		if _, ok := m["schemas"]; !ok {
			m["schemas"] = []string{SchemaURN}
		}
		m["meta"] = map[string]any{"resourceType": "Schema", "location": base + "/Schemas/" + sc.ID}
		out = append(out, m)
	}
	return append(out, groupSchema(base))
}

func (s *Server) resourceTypes(base string) []any {
	exts := make([]any, 0, len(s.ss.ext))
	for _, e := range s.ss.ext {
		exts = append(exts, map[string]any{"schema": e.ID, "required": false})
	}
	return []any{map[string]any{
		"schemas":          []string{ResourceTypeURN},
		"id":               "User",
		"name":             "User",
		"endpoint":         "/Users",
		"description":      "User Account",
		"schema":           UserURN,
		"schemaExtensions": exts,
		"meta":             map[string]any{"resourceType": "ResourceType", "location": base + "/ResourceTypes/User"},
	}, groupResourceType(base)}
}

func list(items []any) map[string]any {
	return map[string]any{
		"schemas": []string{ListURN}, "totalResults": len(items), "itemsPerPage": len(items),
		"startIndex": 1, "Resources": items,
	}
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request, segs []string) {
	base := s.baseURL(r)
	var items []any
	switch segs[0] {
	case "ServiceProviderConfig":
		if len(segs) == 1 {
			s.writeJSON(w, http.StatusOK, s.ServiceProviderConfig(base))
			return
		}
	case "Schemas":
		items = s.schemaResources(base)
	case "ResourceTypes":
		items = s.resourceTypes(base)
	}
	if items != nil {
		if len(segs) == 1 {
			s.writeJSON(w, http.StatusOK, list(items))
			return
		}
		if len(segs) == 2 {
			for _, it := range items {
				m := it.(map[string]any)
				if id, _ := m["id"].(string); strings.EqualFold(id, segs[1]) {
					s.writeJSON(w, http.StatusOK, m)
					return
				}
			}
		}
	}
	s.writeErr(w, errf(http.StatusNotFound, "", "no such resource: /%s", strings.Join(segs, "/")))
}
