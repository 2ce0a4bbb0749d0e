package backup

import (
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/ferry-dev/ferry/internal/core"
)

// IdentityEnv names the environment variable holding the path of the age identity file
// that decrypts backups. The key itself never travels through flags or URLs.
const IdentityEnv = "FERRY_AGE_IDENTITY_FILE"

// Identities reads the age identities named by the environment; none when unset.
func Identities(getenv func(string) string) ([]age.Identity, error) {
	path := getenv(IdentityEnv)
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", IdentityEnv, err)
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		// The parser's message may quote the file; it holds a private key.
		return nil, fmt.Errorf("%s: %s holds no valid age identity: %w", IdentityEnv, path, core.ErrUsage)
	}
	return ids, nil
}

// Recipients parses public keys given to --encrypt-to (age1...; public, so flags are fine).
func Recipients(keys []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for _, k := range keys {
		rs, err := age.ParseRecipients(strings.NewReader(k))
		if err != nil {
			return nil, fmt.Errorf("--encrypt-to %q: %v: %w", k, err, core.ErrUsage)
		}
		out = append(out, rs...)
	}
	return out, nil
}
