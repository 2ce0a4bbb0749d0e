package scim

import (
	"strings"
	"testing"
)

func TestUserNameTerms(t *testing.T) {
	tests := []struct {
		filter string
		want   string // joined names; "-" when the filter must scan
	}{
		{`userName eq "Ann"`, "Ann"},
		{`USERNAME eq "ann"`, "ann"},
		{`userName eq "a" or userName eq "b" or userName eq "c"`, "a,b,c"},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"`, "a"},
		{`userName eq "a" and active eq true`, "-"},
		{`userName eq "a" or externalId eq "b"`, "-"},
		{`userName co "a"`, "-"},
		{`not (userName eq "a")`, "-"},
		{`emails[value eq "a"]`, "-"},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.filter)
		if err != nil {
			t.Fatalf("%s: %v", tt.filter, err)
		}
		names, ok := userNameTerms(f, nil)
		got := "-"
		if ok {
			got = strings.Join(names, ",")
		}
		if got != tt.want {
			t.Errorf("%s: %q, want %q", tt.filter, got, tt.want)
		}
	}
}
