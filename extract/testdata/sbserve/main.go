// Command sbserve starts the sandbox tenants on loopback and prints, per provider, the
// ferry endpoint and environment that reach it, for end-to-end runs of
// `ferry migrate --from ...` by hand (extract's own tests start them in-process).
//
//	go run ./extract/testdata/sbserve -users 5000
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/ferry-dev/ferry/internal/gen"
	sbappid "github.com/ferry-dev/ferry/internal/sandbox/appid"
	sbauth0 "github.com/ferry-dev/ferry/internal/sandbox/auth0"
	"github.com/ferry-dev/ferry/internal/sandbox/faults"
	sbscim "github.com/ferry-dev/ferry/internal/sandbox/scim"
	"github.com/segmentio/encoding/json"
)

func main() {
	users := flag.Int("users", 2000, "users per tenant")
	plan := flag.String("plan", "enterprise", "Auth0 plan")
	fault := flag.String("faults", "", "faults (latency=50ms,5xx=0.05,...)")
	flag.Parse()
	fc, err := faults.Parse(*fault)
	if err != nil {
		log.Fatal(err)
	}
	wrap := func(s *httptest.Server) *httptest.Server { return s }
	a, err := sbauth0.New(sbauth0.Config{Users: *users, Seed: 1, Plan: *plan, ExportDelay: 3 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	as := wrap(httptest.NewServer(faults.Wrap(a.Handler(), fc)))
	fmt.Printf("auth0: auth0://sandbox?base=%s  AUTH0_CLIENT_ID=%s AUTH0_CLIENT_SECRET=%s\n", as.URL, a.Credentials().ClientID, a.Credentials().ClientSecret)

	apps := []sbappid.AppSeed{{Name: "web", Scopes: []string{"read"}}}
	var roles []sbappid.RoleSeed
	for _, n := range gen.RoleNames() {
		roles = append(roles, sbappid.RoleSeed{Name: n, Access: map[string][]string{"web": {"read"}}})
	}
	p, err := sbappid.New(sbappid.Config{Applications: apps, Roles: roles, UserCount: *users,
		UserGen: func(i int) []byte { return gen.AppID(1, i, gen.Options{}) }})
	if err != nil {
		log.Fatal(err)
	}
	ps := httptest.NewServer(faults.Wrap(p.Handler(), fc))
	fmt.Printf("appid: %s  IBMCLOUD_API_KEY=%s\n", p.Endpoint(ps.URL), p.Credentials().APIKey)

	seed := make([]json.RawMessage, *users)
	for i := range seed {
		seed[i] = gen.SCIM(1, i, gen.Options{})
	}
	s, err := sbscim.New(sbscim.Config{Users: seed, BasePath: "/scim/v2", Token: "sandbox-scim-token"})
	if err != nil {
		log.Fatal(err)
	}
	ss := httptest.NewServer(faults.Wrap(s.Handler(), fc))
	fmt.Printf("scim: scim+%s/scim/v2  SCIM_TOKEN=sandbox-scim-token\n", ss.URL)
	select {}
}
