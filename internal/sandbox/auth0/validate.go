package auth0

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
)

// The bulk-import user schema, as Auth0 publishes it (Bulk Import Database Schema and
// Examples). Items are checked against it with the subset of JSON Schema it uses; errors
// carry the codes and messages of z-schema, the validator Auth0's errors come from
// (e.g. INVALID_FORMAT "Object didn't pass validation for format email: x").
//
//go:embed bulk_import_user.schema.json
var bulkImportSchemaJSON []byte

type schema struct {
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties *bool              `json:"additionalProperties"`
	Enum                 []string           `json:"enum"`
	Pattern              string             `json:"pattern"`
	Format               string             `json:"format"`
	Items                *schema            `json:"items"`
	MinItems             *int               `json:"minItems"`
	MaxItems             *int               `json:"maxItems"`
	MaxProperties        *int               `json:"maxProperties"`
	re                   *regexp.Regexp
}

var bulkImportSchema = func() *schema {
	var s schema
	if err := json.Unmarshal(bulkImportSchemaJSON, &s); err != nil {
		panic("auth0 sandbox: embedded bulk import schema: " + err.Error())
	}
	s.compile()
	return &s
}()

func (s *schema) compile() {
	if s.Pattern != "" {
		s.re = regexp.MustCompile(s.Pattern)
	}
	for _, p := range s.Properties {
		p.compile()
	}
	if s.Items != nil {
		s.Items.compile()
	}
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

// validateImportUser checks one item of an import file.
func validateImportUser(raw []byte) []jobErrorItem {
	if !utf8.Valid(raw) {
		return []jobErrorItem{{Code: "INVALID_FORMAT", Message: "The user is not valid UTF-8"}}
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return []jobErrorItem{{Code: "INVALID_TYPE", Message: "Expected type object but found invalid JSON"}}
	}
	var errs []jobErrorItem
	bulkImportSchema.validate(v, "", &errs)
	if m, ok := v.(map[string]any); ok {
		if _, both := m["custom_password_hash"]; both {
			if _, ph := m["password_hash"]; ph {
				errs = append(errs, jobErrorItem{Code: "CONFLICT", Path: "custom_password_hash",
					Message: "Error in custom_password_hash property - password_hash and custom_password_hash are mutually exclusive"})
			}
		}
	}
	return errs
}

func (s *schema) validate(v any, path string, errs *[]jobErrorItem) {
	add := func(code, msg string) {
		if path != "" {
			msg = "Error in " + path + " property - " + msg
		}
		*errs = append(*errs, jobErrorItem{Code: code, Message: msg, Path: path})
	}
	t := jsonType(v)
	if s.Type != "" && s.Type != t && !(s.Type == "number" && t == "integer") {
		add("INVALID_TYPE", "Expected type "+s.Type+" but found type "+t)
		return
	}
	switch x := v.(type) {
	case string:
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, x) {
			add("ENUM_MISMATCH", "No enum match for: "+strconv.Quote(x))
		}
		if s.re != nil && !s.re.MatchString(x) {
			add("PATTERN", "String does not match pattern "+s.Pattern+": "+x)
		}
		if s.Format == "email" && !validEmail(x) {
			add("INVALID_FORMAT", "Object didn't pass validation for format email: "+x)
		}
	case []any:
		if s.MinItems != nil && len(x) < *s.MinItems {
			add("ARRAY_LENGTH_SHORT", fmt.Sprintf("Array is too short (%d), minimum %d", len(x), *s.MinItems))
		}
		if s.MaxItems != nil && len(x) > *s.MaxItems {
			add("ARRAY_LENGTH_LONG", fmt.Sprintf("Array is too long (%d), maximum %d", len(x), *s.MaxItems))
		}
		if s.Items != nil {
			for k, e := range x {
				s.Items.validate(e, path+"["+strconv.Itoa(k)+"]", errs)
			}
		}
	case map[string]any:
		if s.MaxProperties != nil && len(x) > *s.MaxProperties {
			add("OBJECT_PROPERTIES_MAXIMUM", fmt.Sprintf("Too many properties defined (%d), maximum %d", len(x), *s.MaxProperties))
		}
		for _, req := range s.Required {
			if _, ok := x[req]; !ok {
				add("OBJECT_MISSING_REQUIRED_PROPERTY", "Missing required property: "+req)
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys) // deterministic error order
		var extra []string
		for _, k := range keys {
			if p, ok := s.Properties[k]; ok {
				p.validate(x[k], joinPath(path, k), errs)
			} else if s.AdditionalProperties != nil && !*s.AdditionalProperties {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			add("OBJECT_ADDITIONAL_PROPERTIES", "Additional properties not allowed: "+strings.Join(extra, ","))
		}
	}
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// validEmail is the shape check of the "email" format: one @, a local part, and a dotted
// domain of non-empty labels, no spaces.
func validEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || at > 64 || len(s) > 254 {
		return false
	}
	if strings.ContainsAny(s, " \t\r\n<>()[],;:\\\"") {
		return false
	}
	domain := s[at+1:]
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
	}
	return true
}
