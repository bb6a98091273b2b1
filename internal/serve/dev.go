package serve

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/safefile"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// devPolicy is the policy of a dev server. The operator admin needs no
// entry: its role lets it do everything.
const devPolicy = `# serve --dev: the service demo may read demo/*.
services:
  demo: {read: ["demo/*"]}
`

// devServer is a dev server's temporary directory and the identities made
// in it.
type devServer struct {
	dir   string
	creds []devCredential
}

// devCredential is an identity a dev server made, and the file holding
// its credential.
type devCredential struct {
	name, what, file string
	cred             sensitive.String
}

// devSetup makes the temporary directory, key and policy of a dev server
// and points cfg at them; identities makes the identities.
func devSetup(cfg *config.Config) (*devServer, error) {
	dir, err := os.MkdirTemp("", "sa01-secrets-dev-")
	if err != nil {
		return nil, fmt.Errorf("--dev: cannot create a temporary directory: %w", err)
	}
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(devPolicy), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("--dev: cannot write the policy: %w", err)
	}
	cfg.Keys, _ = fernet.NewRing(fernet.GenerateKey())
	cfg.DBDSN = sensitive.New("sqlite://" + filepath.Join(dir, "secrets.db"))
	cfg.PolicyFile = pol
	cfg.AuditFile = ""
	return &devServer{dir: dir}, nil
}

// identities creates the dev server's operator admin and service demo,
// and writes their credentials to 0600 files in its directory.
func (d *devServer) identities(ctx context.Context, ids *identity.Manager) error {
	for _, n := range []struct {
		name, what string
		o          identity.AddOptions
	}{
		{"admin", "operator, role admin", identity.AddOptions{Kind: identity.Operator, Role: identity.Admin}},
		{"demo", "service, may read demo/*", identity.AddOptions{Kind: identity.Service}},
	} {
		is, err := ids.Add(ctx, n.name, n.o)
		if err != nil {
			return fmt.Errorf("--dev: creating identity %s: %w", n.name, err)
		}
		file := filepath.Join(d.dir, n.name+".credential")
		if err := safefile.WriteFile(file, []byte(is.Credential.Reveal()+"\n"), safefile.Options{}); err != nil {
			return fmt.Errorf("--dev: writing the credential of %s: %w", n.name, err)
		}
		d.creds = append(d.creds, devCredential{name: n.name, what: n.what, file: file, cred: is.Credential})
	}
	return nil
}

// banner tells the dev server's user what it is, its credentials and how
// to try it; uiURL is the console's, or "".
func (d *devServer) banner(w io.Writer, addr, uiURL string) {
	fmt.Fprintf(w, `sa01-secrets dev server: a throwaway store for trying things out.
It keeps NOTHING: the store, the key and the credentials below vanish on exit.
Never put a real secret in it.

  Address:  %s
  Store:    %s (removed on exit)
`, addr, filepath.Join(d.dir, "secrets.db"))
	for _, c := range d.creds {
		fmt.Fprintf(w, "  %-8s  %s (%s)\n            in %s\n", c.name+":", c.cred.Reveal(), c.what, c.file)
	}
	admin, demo := d.creds[0].file, d.creds[1].file
	fmt.Fprintf(w, `
Try, in another shell (from a checkout without the binary installed, write
"go run ./cmd/sa01-secrets" for "sa01-secrets", or "go install ./cmd/sa01-secrets" first):

  export SA01_SECRETS_ADDR=%s
  export SA01_SECRETS_CREDENTIAL_FILE=%s

  printf %%s 'sk-demo-not-a-real-key' | sa01-secrets put demo/openai_api_key
  sa01-secrets get demo/openai_api_key
  SA01_SECRETS_CREDENTIAL_FILE=%s sa01-secrets run --service demo -- sh -c 'echo "OPENAI_API_KEY has ${#OPENAI_API_KEY} characters"'

Stop with Ctrl-C.
`, addr, admin, demo)
	if uiURL != "" {
		fmt.Fprintf(w, "Web console: %s (sign in with the admin credential above)\n", uiURL)
	}
}
