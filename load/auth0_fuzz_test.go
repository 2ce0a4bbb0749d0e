package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/internal/httpx"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
	"golang.org/x/time/rate"
)

// FuzzAuth0Identities feeds arbitrary secondary identities to the sink's item builder:
// either import items that are JSON objects with an email, or a reason; never a panic.
func FuzzAuth0Identities(f *testing.F) {
	for _, s := range []string{
		`{"connection":"google-oauth2","provider":"google-oauth2","user_id":123,"profileData":{"email":"a@b.c"}}`,
		`{"connection":"Username-Password-Authentication","provider":"auth0","user_id":"x","profileData":{"email":"a@b.c","email_verified":"true"}}`,
		`{"provider":"auth0","user_id":null}`, `[]`, `{"profileData":[1]}`, `{"user_id":1e400}`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, raw []byte, unlink bool) {
		s := &Auth0{cfg: Auth0Config{Connection: DefaultConnection, Unlink: unlink}}
		u := &schemas.User{Ferry: &schemas.FerryUser{Identities: []json.RawMessage{json.RawMessage(`{}`), json.RawMessage(raw)}}}
		units, why := s.identityUnits(u)
		if why != "" {
			if units != nil {
				t.Fatal("units and a reason")
			}
			return
		}
		for _, un := range units {
			var h itemHead
			if err := json.Unmarshal(un.data, &h); err != nil || h.Email == "" || h.Email != un.email {
				t.Fatalf("item %s: %v", un.data, err)
			}
		}
	})
}

// FuzzAuth0JobErrors feeds arbitrary /errors answers and summaries to the result mapping:
// every unit gets an outcome, and none is reported written unless the summary allows it.
func FuzzAuth0JobErrors(f *testing.F) {
	f.Add([]byte(`[{"user":{"email":"a@x.io"},"errors":[{"code":"INVALID_TYPE","message":"m","path":"blocked"}]}]`), 1, 0, 1)
	f.Add([]byte(`[{"user":{"email":"zz@x.io","user_id":"b"},"errors":[]}]`), 1, 1, 0)
	f.Add([]byte(`[{"user":"x"}]`), 0, 0, 2)
	f.Add([]byte(`{}`), 2, 0, 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`[]`)) }))
	defer srv.Close()
	c, err := httpx.New(httpx.Config{BaseURL: srv.URL + "/api/v2/", Limiter: httpx.NewLimiter(rate.Inf, 1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, ins, upd, failed int) {
		var errs []jobUserError
		if json.Unmarshal(body, &errs) != nil {
			return
		}
		s := &Auth0{api: newAuth0API(c)}
		file := &importFile{units: []*unit{
			{data: []byte(`{"email":"a@x.io","user_id":"a"}`), email: "a@x.io", key: "a@x.io", userID: "a"},
			{data: []byte(`{"email":"B@x.io","user_id":"b"}`), email: "B@x.io", key: "b@x.io", userID: "b"},
		}}
		j := &jobView{ID: "job_1", Status: "completed"}
		j.Summary = &struct {
			Inserted int `json:"inserted"`
			Updated  int `json:"updated"`
			Failed   int `json:"failed"`
			Total    int `json:"total"`
		}{ins, upd, failed, ins + upd + failed}
		if err := s.mapResults(context.Background(), file, j, errs, time.Now(), false); err != nil {
			t.Fatal(err)
		}
		written := 0
		for _, u := range file.units {
			switch u.out {
			case core.Created, core.Updated:
				written++
			case core.Rejected:
				if !strings.HasPrefix(u.reason, "auth0 import: ") {
					t.Fatalf("reason %q", u.reason)
				}
			default:
				t.Fatalf("no outcome: %+v", u)
			}
		}
		if written > max(ins+upd, 0) {
			t.Fatalf("%d written, summary says %d", written, ins+upd)
		}
	})
}
