package transform

import (
	"strconv"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// RuleIdentities names the rewrite of another provider's linked identities into the shape
// the target imports.
const RuleIdentities = "identities"

// appIDProviders maps Auth0 identity providers to App ID's names for the same IdPs. A
// database (auth0) identity is a Cloud Directory one in App ID.
var appIDProviders = map[string]string{
	"auth0":         "cloud_directory",
	"google-oauth2": "google",
	"facebook":      "facebook",
	"apple":         "apple",
	"samlp":         "saml",
	"oidc":          "oidc",
}

// identitiesPolicy turns Auth0 identities ({connection, provider, user_id, isSocial,
// profileData}) into App ID's ({provider, id, idpUserInfo}) for an App ID target. Each
// rewrite is a change holding the identity as it was, so a later restore into Auth0 has it.
type identitiesPolicy struct{}

func (identitiesPolicy) Name() string { return RuleIdentities }

type auth0Identity struct {
	Connection  string          `json:"connection"`
	Provider    string          `json:"provider"`
	UserID      json.RawMessage `json:"user_id"`
	ProfileData json.RawMessage `json:"profileData"`
}

type appIDIdentity struct {
	Provider    string          `json:"provider"`
	ID          string          `json:"id"`
	IdpUserInfo json.RawMessage `json:"idpUserInfo"`
}

func (identitiesPolicy) Apply(u *schemas.User, c *Changes) error {
	f := u.Ferry
	if f == nil || len(f.Identities) == 0 || f.Provider != core.FormatAuth0 {
		return nil
	}
	out := make([]json.RawMessage, len(f.Identities))
	for i, raw := range f.Identities {
		path := pathIdentities + "[" + strconv.Itoa(i) + "]"
		var in auth0Identity
		if err := json.Unmarshal(raw, &in); err != nil || in.Provider == "" || len(in.UserID) == 0 {
			return &Rejection{Rule: RuleIdentities, Path: path, Msg: "an Auth0 identity needs provider and user_id"}
		}
		id := string(in.UserID)
		if s, err := strconv.Unquote(id); err == nil {
			id = s // a string user_id; a numeric one (a real quirk) is kept as its digits
		}
		provider, ok := appIDProviders[in.Provider]
		if !ok {
			provider = in.Provider
		}
		info := in.ProfileData
		if i == 0 || len(info) == 0 {
			info = primaryInfo(u)
		}
		b, err := json.Marshal(appIDIdentity{Provider: provider, ID: id, IdpUserInfo: info})
		if err != nil {
			return &Rejection{Rule: RuleIdentities, Path: path, Msg: err.Error()}
		}
		out[i] = b
		c.Add(RuleIdentities, path, raw, json.RawMessage(b), "Auth0 identity in App ID's shape")
	}
	f.Identities = out
	return nil
}

// primaryInfo is what App ID keeps from the IdP for the primary identity: the profile's
// own fields, as Auth0 normalised them.
func primaryInfo(u *schemas.User) json.RawMessage {
	info := map[string]string{}
	if e := u.PrimaryEmail(); e != "" {
		info["email"] = e
	}
	if u.DisplayName != "" {
		info["name"] = u.DisplayName
	}
	if u.Name != nil {
		if u.Name.GivenName != "" {
			info["given_name"] = u.Name.GivenName
		}
		if u.Name.FamilyName != "" {
			info["family_name"] = u.Name.FamilyName
		}
	}
	for _, p := range u.Photos {
		info["picture"] = p.Value
		break
	}
	b, _ := json.Marshal(info)
	return b
}
