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

// secretHandler serves a route whose path names a secret.
type secretHandler func(w http.ResponseWriter, r *http.Request, ss *session, name string)

// onSecret checks the secret name of the path and calls h with it and the
// request's session.
func (c *Console) onSecret(h secretHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, err := secretName(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		h(w, r, sessionFrom(r.Context()), name)
	}
}

// secretPage renders the template tmpl with the operator's view of the
// secret of the path; data, when not nil, makes the template's data from
// it (else secretData).
func (c *Console) secretPage(tmpl, nav, title string, data func(r *http.Request, name string, d SecretDetail) (any, error)) http.HandlerFunc {
	return c.onSecret(func(w http.ResponseWriter, r *http.Request, ss *session, name string) {
		d, err := c.b.Secret(r.Context(), ss.who, name)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		var v any = secretData{Detail: d}
		if data != nil {
			if v, err = data(r, name, d); err != nil {
				c.fail(w, r, err)
				return
			}
		}
		p := c.newPage(r, strings.TrimSpace(title+" "+name), nav)
		if tmpl == "secret" {
			if n, err := strconv.Atoi(r.URL.Query().Get("saved")); err == nil && n > 0 {
				p.Flash = "Saved as version " + strconv.Itoa(n) + "."
			}
		}
		p.Data = v
		c.render(w, r, http.StatusOK, tmpl, p)
	})
}

// secretAction runs do on the secret of the path and redirects to where
// it says.
func (c *Console) secretAction(do func(r *http.Request, ss *session, name string) (string, error)) http.HandlerFunc {
	return c.onSecret(func(w http.ResponseWriter, r *http.Request, ss *session, name string) {
		to, err := do(r, ss, name)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	})
}

// savedAt is the secret's page saying which version was written.
func savedAt(name string, version int) string {
	return Prefix + "secret/" + name + "?saved=" + strconv.Itoa(version)
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
func (c *Console) handleReveal(w http.ResponseWriter, r *http.Request, ss *session, name string) {
	version, err := formVersion(r, "version")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	rv, err := c.b.Reveal(r.Context(), ss.who, name, version, RevealScreen)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d, err := c.b.Secret(r.Context(), ss.who, name)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p := c.newPage(r, name, "secrets")
	p.Data = secretData{Detail: d, Revealed: &revealedData{Version: rv.Version.Version, Value: showValue([]byte(rv.Value.Reveal()))}}
	c.render(w, r, http.StatusOK, "secret", p)
}

// handleCopy: POST /ui/copy/{name} returns the current value as plain
// text for the console's script to put on the clipboard, without showing
// it; audited as a reveal to the clipboard.
func (c *Console) handleCopy(w http.ResponseWriter, r *http.Request, ss *session, name string) {
	rv, err := c.b.Reveal(r.Context(), ss.who, name, 0, RevealClipboard)
	if err == nil {
		// The script reads the answer as UTF-8 text: other bytes would
		// reach the clipboard as U+FFFD. Reveal shows them as base64.
		err = secrets.CheckText(name, rv.Version.Version, rv.Value.Reveal())
	}
	if err != nil {
		status, msg := classify(err)
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Secret-Version", strconv.Itoa(rv.Version.Version))
	_, _ = w.Write([]byte(rv.Value.Reveal()))
}
