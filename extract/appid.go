package extract

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/ferry-dev/ferry/internal/appidapi"
	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/endpoint"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/internal/jsonstream"
	"github.com/segmentio/encoding/json"
)

// AppID reads the users of an IBM Cloud App ID instance through the Management API v4:
// GET /users/export (profiles: {id, name, email, picture, identities, attributes, roles}),
// or, with ?cloud_directory=true or --from-format appid-cd, GET /cloud_directory/export
// (Cloud Directory users with their password hashes, encrypted with the secret in
// APPID_ENCRYPTION_SECRET, at most 50 per request). Both page by startIndex (0-based) and
// count until totalResults.
//
// The cursor is "index=N": the first N users of the listing are committed. App ID lists
// users in creation order, so a resumed run skips exactly the committed ones unless users
// were deleted in between.
type AppID struct {
	tenant string
	region string
	cd     bool
	secret string // APPID_ENCRYPTION_SECRET (Cloud Directory export only)
	api    *httpx.Client
	pager  *indexPager
	skip   int64
}

var (
	_ core.Source     = (*AppID)(nil)
	_ core.Counter    = (*AppID)(nil)
	_ core.Resumer    = (*AppID)(nil)
	_ core.RoleReader = (*AppID)(nil)
)

// App ID limits (DESIGN.md; App ID "Known issues and limitations").
const (
	appIDPageSize = 50 // Cloud Directory export: at most 50 per request; users/export likewise in practice
	// The management API allows 50 requests/s and blocks a tenant for 30 s past that, with
	// no budget headers to follow: stay at the limit with a small burst, which the server's
	// own burst of 50 absorbs however the network bunches requests.
	appIDRate  = 50
	appIDBurst = 10
)

func init() { Register("appid", openAppID) }

func openAppID(_ context.Context, ep *endpoint.Endpoint, opt core.Options) (core.Source, error) {
	return newAppID(ep, opt, netHooks{})
}

func newAppID(ep *endpoint.Endpoint, opt core.Options, h netHooks) (*AppID, error) {
	tenant := strings.Trim(ep.Path, "/")
	if ep.Host == "" || tenant == "" || strings.Contains(tenant, "/") {
		return nil, fmt.Errorf("appid: %s: want appid://REGION/TENANT_ID: %w", ep, core.ErrUsage)
	}
	a := &AppID{tenant: tenant, region: ep.Host}
	switch opt.Format {
	case "", core.FormatAppID:
	case core.FormatAppIDCD:
		a.cd = true
	default:
		return nil, fmt.Errorf("appid: the instance yields format %s or %s, not %q: %w",
			core.FormatAppID, core.FormatAppIDCD, opt.Format, core.ErrUsage)
	}
	if v := ep.Query.Get("cloud_directory"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("appid: ?cloud_directory=%q is not a boolean: %w", v, core.ErrUsage)
		}
		a.cd = a.cd || b
	}
	if a.cd {
		a.secret = getenv(opt, "APPID_ENCRYPTION_SECRET")
		if a.secret == "" {
			return nil, fmt.Errorf("appid: a Cloud Directory export needs APPID_ENCRYPTION_SECRET (it encrypts the password hashes): %w", core.ErrUsage)
		}
	}
	key := getenv(opt, "IBMCLOUD_API_KEY")
	if key == "" {
		return nil, fmt.Errorf("appid: set IBMCLOUD_API_KEY: %w", core.ErrUsage)
	}
	root := "https://" + ep.Host + ".appid.cloud.ibm.com"
	base, err := baseOverride(ep)
	if err != nil {
		return nil, fmt.Errorf("appid: %w", err)
	}
	if base != "" {
		root = base
	}
	iam, err := iamURL(ep)
	if err != nil {
		return nil, err
	}
	api := root + "/management/v4/" + url.PathEscape(tenant) + "/"
	a.api, err = httpx.New(httpx.Config{
		Name: "appid", BaseURL: api,
		Token:     &httpx.IBMIAM{URL: iam, APIKey: key, Transport: h.transport, Now: h.now},
		Limiter:   httpx.SharedLimiter("appid:"+api, appIDRate, appIDBurst),
		Secrets:   nonEmpty(a.secret),
		Transport: h.transport, Now: h.now, Sleep: h.sleep,
	})
	if err != nil {
		return nil, err
	}
	a.pager = &indexPager{name: "appid: " + a.path(), count: appIDPageSize, window: prefetch,
		fetch: a.fetch, idOf: a.idOf}
	return a, nil
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// iamURL is ?iam= (a root gets IAM's token path), else IBM Cloud IAM.
func iamURL(ep *endpoint.Endpoint) (string, error) {
	v := ep.Query.Get("iam")
	if v == "" {
		return httpx.DefaultIAMURL, nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("appid: ?iam=%s is not an absolute http(s) URL: %w", endpoint.Redact(v), core.ErrUsage)
	}
	if strings.Trim(u.Path, "/") == "" {
		u.Path = "/identity/token"
	}
	return u.String(), nil
}

func (a *AppID) path() string {
	if a.cd {
		return "cloud_directory/export"
	}
	return "users/export"
}

// Name implements core.Source.
func (a *AppID) Name() string { return "appid:" + a.region + "/" + a.tenant }

// Format implements core.Source.
func (a *AppID) Format() string {
	if a.cd {
		return core.FormatAppIDCD
	}
	return core.FormatAppID
}

// ResumeAfter implements core.Resumer.
func (a *AppID) ResumeAfter(cursor string) error {
	v, ok := strings.CutPrefix(cursor, "index=")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil || n < 0 {
		return fmt.Errorf("appid: bad resume cursor %q (want index=N): %w", cursor, core.ErrUsage)
	}
	a.skip = n
	a.pager.first = n
	return nil
}

// Total implements core.Counter.
func (a *AppID) Total(ctx context.Context) (int64, bool) {
	t := a.pager.total(ctx)
	if t < 0 {
		return 0, false
	}
	return max(t-a.skip, 0), true
}

// appIDExport is the envelope of both exports.
type appIDExport struct {
	TotalResults *int64           `json:"totalResults"`
	Users        *json.RawMessage `json:"users"`
}

func (a *AppID) fetch(ctx context.Context, pos int64, count int) (*indexPage, error) {
	q := url.Values{"startIndex": {strconv.FormatInt(pos, 10)}, "count": {strconv.Itoa(count)}}
	if a.cd {
		q.Set("encryption_secret", a.secret)
	}
	var env appIDExport
	if err := a.api.GetJSON(ctx, a.path(), q, &env); err != nil {
		return nil, fmt.Errorf("appid: %s at %d: %w", a.path(), pos, err)
	}
	if env.Users == nil {
		return nil, fmt.Errorf("appid: %s at %d: answer without a users array: %w", a.path(), pos, ErrHostile)
	}
	items, err := splitArray(*env.Users)
	if err != nil {
		return nil, fmt.Errorf("appid: %s at %d: users is not an array: %w", a.path(), pos, ErrHostile)
	}
	p := &indexPage{total: -1, items: items}
	if env.TotalResults != nil {
		p.total = *env.TotalResults
	}
	return p, nil
}

// idOf is a profile's id, or a Cloud Directory user's scimUser.id.
func (a *AppID) idOf(raw json.RawMessage) string {
	if !a.cd {
		var p idProbe
		if json.Unmarshal(raw, &p) != nil {
			return ""
		}
		return jsonstream.IDText(p.ID)
	}
	var p struct {
		SCIMUser idProbe `json:"scimUser"`
	}
	if json.Unmarshal(raw, &p) != nil {
		return ""
	}
	return jsonstream.IDText(p.SCIMUser.ID)
}

// Users implements core.Source.
func (a *AppID) Users(ctx context.Context, emit func(core.Record) error) error {
	return a.pager.run(ctx, func(pos int64, item json.RawMessage) error {
		ref := a.idOf(item)
		if ref == "" {
			ref = "user " + strconv.FormatInt(pos+1, 10)
		}
		return emit(core.Record{Data: item, Ref: ref, Cursor: "index=" + strconv.FormatInt(pos+1, 10)})
	})
}

// Roles implements core.RoleReader: roles with the scopes they grant per application, the
// applications named by name (client ids differ per instance), and every application's
// scopes.
func (a *AppID) Roles(ctx context.Context) (*core.Catalog, error) {
	return appidapi.Catalog(ctx, a.api)
}
