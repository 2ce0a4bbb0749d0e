package transform

import (
	"fmt"
	"testing"

	"github.com/ferry-dev/ferry/schemas"
	"github.com/segmentio/encoding/json"
)

// A typical clean Auth0 user: a few metadata members, a URL, an e-mail, a date.
const (
	benchCleanApp  = `{"plan":"pro","tenant":"acme","roles":["editor","viewer"],"crm_id":"A-10293","since":"2021-03-04T10:00:00Z"}`
	benchCleanUser = `{"color":"blue","lang":"fr-FR","newsletter":true,"age":34,"homepage":"https://example.com/~ann","address":{"city":"Lyon","zip":"69001"}}`
	// A nasty one: dotted and dollar names, reserved and shadowing names, a card number,
	// a type conflict, a long value.
	benchNastyApp  = `{"email":"old@example.com","groups":["a"],"flags.beta":true,"$plan":"gold","loginsCount":"7"}`
	benchNastyUser = `{"preference.color":"pink","age":"34","card":"4111 1111 1111 1111","bio":"` +
		`Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ` +
		`Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit."}`
)

func benchUser(app, um string) *schemas.User {
	return &schemas.User{
		UserName: "ann@example.com",
		Emails:   []schemas.MultiValued{{Value: "ann@example.com", Primary: true}},
		Photos:   []schemas.MultiValued{{Value: "https://cdn.example/ann.png", Type: "photo", Primary: true}},
		Ferry: &schemas.FerryUser{
			Provider: "auth0", SourceID: "auth0|5f1d7c",
			AppMetadata: json.RawMessage(app), UserMetadata: json.RawMessage(um),
			Identities: []json.RawMessage{json.RawMessage(`{"provider":"auth0","user_id":"5f1d7c","connection":"db","isSocial":false}`)},
		},
	}
}

func BenchmarkPolicies(b *testing.B) {
	for _, bc := range []struct {
		name    string
		app, um string
	}{
		{"clean", benchCleanApp, benchCleanUser},
		{"nasty", benchNastyApp, benchNastyUser},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ps := mustPolicies(b, DefaultPolicyConfig(), nil)
			// Teach the type registry the clean types, as the first users of a run would.
			ApplyAll(ps, benchUser(benchCleanApp, benchCleanUser), &Changes{})
			users := make([]*schemas.User, b.N)
			for i := range users {
				users[i] = benchUser(bc.app, bc.um)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.app) + len(bc.um)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := Changes{User: "ann@example.com"}
				if err := ApplyAll(ps, users[i], &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("clean-parallel", func(b *testing.B) {
		ps := mustPolicies(b, DefaultPolicyConfig(), nil)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			u := benchUser(benchCleanApp, benchCleanUser)
			for pb.Next() {
				c := Changes{User: "ann@example.com"}
				if err := ApplyAll(ps, u, &c); err != nil {
					panic(err)
				}
			}
		})
	})
}

func BenchmarkPlannerObserve(b *testing.B) {
	pl := NewPlanner()
	u := benchUser(benchCleanApp, benchCleanUser)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			pl.Observe(u, nil, nil)
		}
	})
	_ = fmt.Sprint(pl.Result().Users)
}
