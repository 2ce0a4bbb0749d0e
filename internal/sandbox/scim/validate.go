package scim

import (
	"strings"
	"time"
)

// normalize checks a User from a request and puts known attribute names in their
// canonical case. It drops what the client may not set (id, meta, readOnly attributes) and
// returns the resource without them. In strict mode unknown attributes, unknown or unlisted
// extensions and values outside canonicalValues are refused; lenient mode keeps unknown
// data as sent and accepts "true"/"false" strings for booleans (as Entra sends them).
func (s *Server) normalize(in map[string]any) (map[string]any, *Error) {
	out := make(map[string]any, len(in))
	listed, err := s.schemasList(in)
	if err != nil {
		return nil, err
	}
	for k, v := range in {
		switch {
		case strings.EqualFold(k, "schemas"), strings.EqualFold(k, "id"), strings.EqualFold(k, "meta"):
			continue
		case strings.EqualFold(k, "externalId"):
			if v == nil {
				continue
			}
			if _, ok := v.(string); !ok {
				return nil, badValue("externalId must be a string")
			}
			out["externalId"] = v
		case strings.Contains(k, ":"):
			ext := s.ss.extension(k)
			if ext == nil {
				if s.cfg.Strict {
					return nil, badValue("unknown schema extension %q", k)
				}
				out[k] = v
				listed = addURN(listed, k)
				continue
			}
			if !hasURN(listed, ext.ID) {
				if s.cfg.Strict {
					return nil, badValue("extension %q is not listed in schemas", ext.ID)
				}
				listed = addURN(listed, ext.ID)
			}
			if v == nil {
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, badValue("%s must be an object", ext.ID)
			}
			got, err := s.checkObject(ext.Attributes, m, ext.ID+":")
			if err != nil {
				return nil, err
			}
			out[ext.ID] = got
		default:
			a := findAttr(s.ss.core.Attributes, k)
			if a == nil {
				if s.cfg.Strict {
					return nil, badValue("unknown attribute %q", k)
				}
				out[k] = v
				continue
			}
			if a.Mutability == "readOnly" {
				continue // RFC 7644 §3.3: readOnly values in a request are ignored
			}
			val, err := s.checkValue(a, v, a.Name)
			if err != nil {
				return nil, err
			}
			if val != nil {
				out[a.Name] = val
			}
		}
	}
	un, _ := out["userName"].(string)
	if strings.TrimSpace(un) == "" {
		return nil, badValue("userName is required and must not be empty")
	}
	// Extensions listed but carrying no data stay listed; unlisted URNs are added above.
	schemas := make([]any, len(listed))
	for i, u := range listed {
		schemas[i] = u
	}
	out["schemas"] = schemas
	return out, nil
}

func (s *Server) schemasList(in map[string]any) ([]string, *Error) {
	raw, ok := getCI(in, "schemas")
	var list []string
	if ok && raw != nil {
		arr, isArr := raw.([]any)
		if !isArr {
			return nil, badValue("schemas must be an array of URNs")
		}
		for _, x := range arr {
			u, isStr := x.(string)
			if !isStr {
				return nil, badValue("schemas must be an array of URNs")
			}
			if !strings.EqualFold(u, UserURN) && s.ss.extension(u) == nil && s.cfg.Strict {
				return nil, badValue("unknown schema %q", u)
			}
			list = addURN(list, u)
		}
	}
	if !hasURN(list, UserURN) {
		if s.cfg.Strict {
			return nil, badValue("schemas must list %s", UserURN)
		}
		list = append([]string{UserURN}, list...)
	}
	return list, nil
}

func hasURN(list []string, urn string) bool {
	for _, u := range list {
		if strings.EqualFold(u, urn) {
			return true
		}
	}
	return false
}

func addURN(list []string, urn string) []string {
	if hasURN(list, urn) {
		return list
	}
	return append(list, urn)
}

func (s *Server) checkObject(defs []*attr, m map[string]any, prefix string) (map[string]any, *Error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		a := findAttr(defs, k)
		if a == nil {
			if s.cfg.Strict {
				return nil, badValue("unknown attribute %q", prefix+k)
			}
			out[k] = v
			continue
		}
		if a.Mutability == "readOnly" {
			continue
		}
		val, err := s.checkValue(a, v, prefix+a.Name)
		if err != nil {
			return nil, err
		}
		if val != nil {
			out[a.Name] = val
		}
	}
	return out, nil
}

// checkValue checks v against a; nil means "unassigned" and is returned as nil.
func (s *Server) checkValue(a *attr, v any, path string) (any, *Error) {
	if v == nil {
		return nil, nil
	}
	if !a.MultiValued {
		return s.checkSingle(a, v, path)
	}
	arr, ok := v.([]any)
	if !ok {
		if s.cfg.Strict {
			return nil, badValue("%s must be an array", path)
		}
		arr = []any{v}
	}
	out := make([]any, 0, len(arr))
	primaries := 0
	for i, x := range arr {
		if x == nil {
			continue
		}
		val, err := s.checkSingle(a, x, path)
		if err != nil {
			return nil, err
		}
		if m, ok := val.(map[string]any); ok && m["primary"] == true {
			primaries++
			if primaries > 1 {
				return nil, badValue("%s: more than one value has primary true (element %d)", path, i)
			}
		}
		out = append(out, val)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func (s *Server) checkSingle(a *attr, v any, path string) (any, *Error) {
	switch a.Type {
	case "complex":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, badValue("%s must be an object", path)
		}
		return s.checkObject(a.SubAttributes, m, path+".")
	case "boolean":
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if !s.cfg.Strict {
				switch strings.ToLower(b) {
				case "true":
					return true, nil
				case "false":
					return false, nil
				}
			}
		}
		return nil, badValue("%s must be a boolean", path)
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			return nil, badValue("%s must be an integer", path)
		}
		return f, nil
	case "decimal":
		if _, ok := v.(float64); !ok {
			return nil, badValue("%s must be a number", path)
		}
		return v, nil
	case "dateTime":
		str, ok := v.(string)
		if !ok {
			return nil, badValue("%s must be a dateTime string", path)
		}
		if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
			return nil, badValue("%s: %q is not an xsd:dateTime", path, str)
		}
		return str, nil
	default: // string, reference, binary
		str, ok := v.(string)
		if !ok {
			return nil, badValue("%s must be a string", path)
		}
		if s.cfg.Strict && len(a.CanonicalValues) > 0 && !containsFold(a.CanonicalValues, str) {
			return nil, badValue("%s: %q is not one of %s", path, str, strings.Join(a.CanonicalValues, ", "))
		}
		return str, nil
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
