package auth0export

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestCheckLocation(t *testing.T) {
	const real, box = "https://acme.eu.auth0.com", "http://127.0.0.1:5000"
	for _, tc := range []struct {
		root       string
		overridden bool
		loc        string
		ok         bool
	}{
		{real, false, "https://user-exports.auth0.com/job_1/acme.json.gz?Expires=1&Signature=x", true},
		{real, false, "https://user-exports.eu.auth0.com/job_1/acme.json.gz", true},
		{real, false, "https://USER-EXPORTS.AUTH0.COM/job_1/acme.json.gz", true},
		{real, false, "https://ACME.eu.auth0.com/job_1/acme.json.gz", true},
		{real, false, "http://user-exports.auth0.com/job_1/acme.json.gz", false},
		{real, false, "https://user-exports.auth0.com.evil.example/job_1", false},
		{real, false, "https://user-exports.auth0.com.:443/job_1", false},
		{real, false, "https://user-exports.auth0.com:8443/job_1", false},
		{real, false, "https://user-exports.auth0.com@evil.example/job_1", false},
		{real, false, "https://acme.eu.auth0.com:8443/job_1", false},
		{real, false, "https://u:p@acme.eu.auth0.com/job_1", false},
		{real, false, "ftp://acme.eu.auth0.com/job_1", false},
		{real, false, "//evil.example/job_1", false},
		{real, false, "/job_1/acme.json.gz", false},
		{real, false, "http://127.0.0.1/job_1", false},
		// A base override (proxy, sandbox) accepts files from its own host only.
		{"https://proxy.example", true, "https://user-exports.auth0.com/job_1", false},
		{"https://proxy.example", true, "https://proxy.example/job_1", true},
		{box, true, "http://127.0.0.1:5000/user-exports/job_1/sandbox.json.gz", true},
		{box, true, "http://127.0.0.1:6000/user-exports/job_1/sandbox.json.gz", false},
		{box, true, "http://localhost:5000/user-exports/job_1/sandbox.json.gz", false},
		{box, true, "https://user-exports.auth0.com/job_1/sandbox.json.gz", false},
		{box, true, "http://10.0.0.1:5000/job_1", false},
		{"http://localhost:5000", true, "http://localhost:5000/job_1", true},
	} {
		_, err := CheckLocation(tc.loc, tc.root, tc.overridden)
		if (err == nil) != tc.ok {
			t.Errorf("%s from %s: err = %v, want ok=%v", tc.loc, tc.root, err, tc.ok)
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrHostile) {
			t.Errorf("%s: err %v does not match ErrHostile", tc.loc, err)
		}
		if strings.Contains(err.Error(), "Signature=x") || strings.Contains(err.Error(), ErrHostile.Error()) {
			t.Errorf("error quotes the signature or the sentinel: %v", err)
		}
	}
}

func TestCheckLocationBadRoot(t *testing.T) {
	_, err := CheckLocation("https://user-exports.auth0.com/x", "://bad", false)
	if err == nil || errors.Is(err, ErrHostile) {
		t.Fatalf("err = %v, want a base URL error that is not a refusal", err)
	}
}

// FuzzCheckLocation: a location is accepted only over https (or http between loopback
// hosts), on the root's host or, without an override, Auth0's export host.
func FuzzCheckLocation(f *testing.F) {
	for _, s := range []string{
		"https://user-exports.auth0.com/j/t.json.gz?Signature=x", "https://acme.auth0.com/x",
		"http://127.0.0.1:1/x", "https://evil.example/x", "//user-exports.auth0.com/x",
		"https://user-exports.auth0.com@evil.example/x", "https://[::1]:443/x", "https://USER-EXPORTS.AUTH0.COM/x",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, loc string, sandbox bool) {
		root := "https://acme.auth0.com"
		if sandbox {
			root = "http://127.0.0.1:1"
		}
		u, err := CheckLocation(loc, root, sandbox)
		if err != nil {
			if !errors.Is(err, ErrHostile) {
				t.Fatalf("%q: refusal %v does not match ErrHostile", loc, err)
			}
			return
		}
		r, _ := url.Parse(root)
		onRoot := strings.EqualFold(u.Host, r.Host)
		if !onRoot && (sandbox || u.Port() != "" || !IsExportHost(strings.ToLower(u.Host))) {
			t.Fatalf("%q accepted on host %q", loc, u.Host)
		}
		if u.User != nil || (strings.ToLower(u.Scheme) != "https" && !(sandbox && Loopback(u.Hostname()))) {
			t.Fatalf("%q accepted", loc)
		}
	})
}
