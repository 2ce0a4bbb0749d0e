package auth0_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/encoding/json"

	"github.com/ferry-dev/ferry/internal/sandbox/auth0"
)

// TestOfficialSDK drives the sandbox with the official Auth0 Node.js SDK
// (interop/auth0-sdk/sdk.mjs): every Management and Authentication API call ferry makes,
// through a client this project did not write. The SDK speaks only https, so the tenants
// are served over TLS on a certificate made here, which node trusts through
// NODE_EXTRA_CA_CERTS. Each SDK check is a subtest; afterwards the tenant's own state is
// checked against what the SDK did.
func TestOfficialSDK(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "interop", "auth0-sdk"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the official Auth0 SDK interop test needs it (CI has it)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "auth0", "package.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the auth0 SDK is not installed in %s (.ci/run runs npm ci there): %v", dir, err)
		}
		t.Skipf("the auth0 SDK is not installed: run npm ci in %s", dir)
	}

	ca, cert := testCertificates(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}

	const users = 1200 // past the 1,000-result cap of GET /api/v2/users
	main, mainSrv, _ := tlsTenant(t, cert, auth0.Config{Users: users, Seed: 15,
		ExportDelay: 150 * time.Millisecond, ImportDelay: 150 * time.Millisecond})
	creds := mainSrv.Credentials()
	// The second tenant has one bucket of 2 requests refilled at 2/s, so that the SDK meets
	// 429s and its retry has to wait for x-ratelimit-reset.
	rl, _, rl429 := tlsTenant(t, cert, auth0.Config{Users: 3, Seed: 15, ClientID: creds.ClientID,
		ClientSecret: creds.ClientSecret, Buckets: map[string]auth0.Bucket{auth0.BucketGlobal: {Burst: 2, PerSecond: 2}}})

	var sample struct {
		UserID string `json:"user_id"`
	}
	if err := json.Unmarshal(mainSrv.Users()[0], &sample); err != nil {
		t.Fatal(err)
	}
	// Both tenants are seeded alike, so the sample user exists in both.
	role := busiestRole(t, mainSrv)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "sdk.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"NODE_EXTRA_CA_CERTS="+caFile,
		"AUTH0_DOMAIN="+main, "AUTH0_RL_DOMAIN="+rl,
		"AUTH0_CLIENT_ID="+creds.ClientID, "AUTH0_CLIENT_SECRET="+creds.ClientSecret,
		"SAMPLE_USER="+sample.UserID, "EXPECT_USERS="+strconv.Itoa(users), "ROLE_NAME="+role,
	)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	checks, done := 0, false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Bytes()
		if strings.Contains(string(line), creds.ClientSecret) {
			t.Errorf("the SDK script printed the client secret")
		}
		var r struct {
			Check string `json:"check"`
			OK    bool   `json:"ok"`
			Error string `json:"error"`
			Done  bool   `json:"done"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Errorf("SDK script: not a result line: %s", line)
			continue
		}
		if r.Done {
			done = true
			continue
		}
		checks++
		t.Run(r.Check, func(t *testing.T) {
			if !r.OK {
				t.Error(r.Error)
			}
		})
	}
	err = cmd.Wait()
	if !done {
		t.Fatalf("SDK script stopped before the end (%v): %s", err, stderr.String())
	}
	if err != nil && !t.Failed() {
		t.Errorf("SDK script exit: %v: %s", err, stderr.String())
	}
	if checks < 20 {
		t.Errorf("only %d SDK checks ran", checks)
	}
	if n := rl429.Load(); n == 0 {
		t.Error("the rate-limited tenant never answered 429: the SDK's retry was not exercised")
	}
	// The imports the SDK ran are in the tenant: 2 inserted, then 1 updated + 1 inserted,
	// then one of them linked into another (no longer a user of its own); one seeded user
	// was deleted.
	if got := mainSrv.Count(); got != users+2-1 {
		t.Errorf("tenant holds %d users after the SDK's imports, link and delete, want %d", got, users+1)
	}
	imported := 0
	for _, raw := range mainSrv.Users() {
		var u struct {
			Email     string `json:"email"`
			GivenName string `json:"given_name"`
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(u.Email, "sdk-") && strings.HasSuffix(u.Email, "@example.com") {
			imported++
		}
	}
	if imported != 2 {
		t.Errorf("tenant holds %d users imported by the SDK (after linking one), want 2", imported)
	}
}

// tlsTenant serves a new sandbox tenant over TLS on a loopback port; its domain is that
// host:port, so that the token audience https://DOMAIN/api/v2/ is what the SDK derives. It
// returns the domain, the server and a counter of 429 answers.
func tlsTenant(t *testing.T, cert tls.Certificate, cfg auth0.Config) (string, *auth0.Server, *atomic.Int64) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	cfg.Domain = ts.Listener.Addr().String()
	srv, err := auth0.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var n429 atomic.Int64
	h := srv.Handler()
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&statusSpy{ResponseWriter: w, n429: &n429}, r)
	})
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return cfg.Domain, srv, &n429
}

type statusSpy struct {
	http.ResponseWriter
	n429 *atomic.Int64
}

func (s *statusSpy) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		s.n429.Add(1)
	}
	s.ResponseWriter.WriteHeader(code)
}

// busiestRole names the seeded role with the most members (the SDK pages its members by
// checkpoint, so it should need several pages).
func busiestRole(t *testing.T, srv *auth0.Server) string {
	t.Helper()
	best, most := "", -1
	for name, n := range srv.RoleMembers() {
		if n > most || (n == most && name < best) {
			best, most = name, n
		}
	}
	if most < 8 {
		t.Fatalf("no seeded role has enough members to page (best %q: %d)", best, most)
	}
	return best
}

// testCertificates makes a CA and a server certificate for 127.0.0.1 signed by it; it
// returns the CA in PEM and the server's key pair.
func testCertificates(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ferry test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: nil}
}
