package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

// maxQueryLen bounds a search term or a filter.
const maxQueryLen = 256

type secretsData struct {
	Query SecretQuery
	Page  SecretPage
	// NextURL is the link to the next page, "" on the last.
	NextURL string
}

// handleSecrets: GET /ui/secrets?prefix=P&q=S&after=N&deleted=1 lists a
// folder of the tree, or searches every level under it.
func (c *Console) handleSecrets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sq := SecretQuery{Prefix: q.Get("prefix"), Search: strings.TrimSpace(q.Get("q")), After: q.Get("after"), Deleted: q.Get("deleted") == "1"}
	if sq.Prefix != "" && !strings.HasSuffix(sq.Prefix, "/") {
		sq.Prefix += "/"
	}
	if err := secrets.ValidatePrefix(sq.Prefix); err != nil {
		c.fail(w, r, inputError("prefix: not a folder of secret names"))
		return
	}
	if len(sq.Search) > maxQueryLen || len(sq.After) > secrets.MaxNameLen {
		c.fail(w, r, inputError("search: at most %d bytes", maxQueryLen))
		return
	}
	ss := sessionFrom(r.Context())
	pg, err := c.b.ListSecrets(r.Context(), ss.who, sq)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := secretsData{Query: sq, Page: pg}
	if pg.Next != "" {
		v := url.Values{}
		for k, s := range map[string]string{"prefix": sq.Prefix, "q": sq.Search, "after": pg.Next} {
			if s != "" {
				v.Set(k, s)
			}
		}
		if sq.Deleted {
			v.Set("deleted", "1")
		}
		d.NextURL = Prefix + "secrets?" + v.Encode()
	}
	p := c.newPage(r, "Secrets", "secrets")
	p.Data = d
	c.render(w, r, http.StatusOK, "secrets", p)
}

type secretData struct {
	Detail   SecretDetail
	Revealed *revealedData
	Saved    int
}

type revealedData struct {
	Version int
	Value   shown
}

// secretName returns the {name...} of the path, checked.
func secretName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if err := secrets.ValidateName(name); err != nil {
		return "", err
	}
	return name, nil
}

// handleSecret: GET /ui/secret/{name} is a secret's page: metadata,
// versions, last read and revealed, and what the operator may do. It
// never holds the value.
func (c *Console) handleSecret(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "", "secrets")
	if n, err := strconv.Atoi(r.URL.Query().Get("saved")); err == nil && n > 0 {
		p.Flash = "Saved as version " + strconv.Itoa(n) + "."
	}
	c.renderSecret(w, r, p, nil)
}

func (c *Console) renderSecret(w http.ResponseWriter, r *http.Request, p *page, rev *revealedData) {
	name, err := secretName(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ss := sessionFrom(r.Context())
	d, err := c.b.Secret(r.Context(), ss.who, name)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p.Title = name
	p.Data = secretData{Detail: d, Revealed: rev}
	c.render(w, r, http.StatusOK, "secret", p)
}

// formVersion reads an optional version field (0: the current one).
func formVersion(r *http.Request, field string) (int, error) {
	s := r.PostFormValue(field)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, inputError("%s: want a version number", field)
	}
	return n, nil
}

// handleReveal: POST /ui/reveal/{name} decrypts a version for the
// operator, audited as a reveal, and shows the secret's page with it. It
// is the one page that carries a value.
func (c *Console) handleReveal(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	version, err := formVersion(r, "version")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ss := sessionFrom(r.Context())
	rv, err := c.b.Reveal(r.Context(), ss.who, name, version, RevealScreen)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p := c.newPage(r, "", "secrets")
	c.renderSecret(w, r, p, &revealedData{Version: rv.Version.Version, Value: showValue([]byte(rv.Value.Reveal()))})
}

// handleCopy: POST /ui/copy/{name} returns the current value as plain
// text for the console's script to put on the clipboard, without showing
// it; audited as a reveal to the clipboard.
func (c *Console) handleCopy(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		http.Error(w, "invalid secret name", http.StatusBadRequest)
		return
	}
	ss := sessionFrom(r.Context())
	rv, err := c.b.Reveal(r.Context(), ss.who, name, 0, RevealClipboard)
	if err != nil {
		status, msg := classify(err)
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Secret-Version", strconv.Itoa(rv.Version.Version))
	_, _ = w.Write([]byte(rv.Value.Reveal()))
}

// handleHistory: GET /ui/history/{name} lists every version.
func (c *Console) handleHistory(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ss := sessionFrom(r.Context())
	d, err := c.b.Secret(r.Context(), ss.who, name)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p := c.newPage(r, "History of "+name, "secrets")
	p.Data = secretData{Detail: d}
	c.render(w, r, http.StatusOK, "history", p)
}
