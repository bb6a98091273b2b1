package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

type editData struct {
	New    bool // a new secret: the name is a field
	Name   string
	CAS    int
	Secret store.Secret
	// Classes lists the classes for the select.
	Classes []string
}

type previewData struct {
	Diff     Diff
	Pending  string // the held edit's ID
	Conflict bool   // the secret moved on since the form was rendered
	CAS      int
	Opts     secrets.PutOptions
}

// handleNewForm: GET /ui/new is the form for a new secret.
func (c *Console) handleNewForm(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "New secret", "secrets")
	p.Data = editData{New: true, Classes: store.Classes, Secret: store.Secret{Class: store.ClassConfig}}
	c.render(w, r, http.StatusOK, "edit", p)
}

// editFormData is the data of GET /ui/edit/{name}, the form for a new
// version: it carries the current version, which the write must still
// find (check-and-set).
func editFormData(_ *http.Request, name string, d SecretDetail) (any, error) {
	return editData{Name: name, CAS: d.Row.Secret.CurrentVersion, Secret: d.Row.Secret, Classes: store.Classes}, nil
}

// editForm reads the value and metadata of an edit form.
func editForm(r *http.Request, name string) (sensitive.String, secrets.PutOptions, int, error) {
	var o secrets.PutOptions
	cas, err := strconv.Atoi(r.PostFormValue("cas"))
	if err != nil || cas < 0 {
		return sensitive.String{}, o, 0, inputError("cas: want the version the form was opened on")
	}
	v := r.PostFormValue("value")
	// Browsers send textarea line breaks as CRLF; a value typed on one
	// line must not gain a trailing newline it never had.
	if r.PostFormValue("trim") == "1" {
		v = strings.TrimRight(v, "\r\n")
	}
	if err := secrets.CheckValue(name, []byte(v)); err != nil {
		return sensitive.String{}, o, 0, err
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"class", &o.Class}, {"description", &o.Description}, {"env", &o.Env}, {"owner", &o.Owner}} {
		s := strings.TrimSpace(r.PostFormValue(f.name))
		if len(s) > 1024 {
			return sensitive.String{}, o, 0, inputError("%s: at most 1024 bytes", f.name)
		}
		*f.dst = s
	}
	o.CAS = &cas
	return sensitive.New(v), o, cas, nil
}

// handleNewPreview: POST /ui/new takes the name and value of a new secret
// and shows what would be written.
func (c *Console) handleNewPreview(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if err := secrets.ValidateName(name); err != nil {
		c.fail(w, r, err)
		return
	}
	c.preview(w, r, sessionFrom(r.Context()), name)
}

// preview serves POST /ui/edit/{name}: the masked diff of the submitted
// value against the current version. The value waits in the session
// until the operator saves it or leaves; the page never holds it.
func (c *Console) preview(w http.ResponseWriter, r *http.Request, ss *session, name string) {
	value, o, cas, err := editForm(r, name)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d, err := c.b.Diff(r.Context(), ss.who, name, value)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	pd := previewData{Diff: d, CAS: cas, Opts: o, Conflict: d.Current != cas}
	status := http.StatusOK
	if pd.Conflict {
		status = http.StatusConflict
	} else {
		pd.Pending = ss.hold(&pendingEdit{name: name, value: value, opts: o, diff: d, created: c.now()})
	}
	p := c.newPage(r, "Review the change to "+name, "secrets")
	p.Data = pd
	c.render(w, r, status, "preview", p)
}

// handleSave: POST /ui/save/{name} writes a held edit, with check-and-set
// on the version the form was opened on.
func (c *Console) handleSave(w http.ResponseWriter, r *http.Request, ss *session, name string) {
	pe := ss.take(r.PostFormValue("pending"), name, c.now())
	if pe == nil {
		c.renderError(w, r, http.StatusGone, "This change is no longer held (it was saved, or more than 10 minutes passed). Edit the secret again.")
		return
	}
	v, err := c.b.Put(r.Context(), ss.who, name, pe.value, pe.opts)
	if errors.Is(err, store.ErrConflict) {
		d := pe.diff
		if cur, err := c.b.Secret(r.Context(), ss.who, name); err == nil {
			d.Current = cur.Row.Secret.CurrentVersion
		}
		p := c.newPage(r, "Conflict on "+name, "secrets")
		p.Data = previewData{Diff: d, CAS: *pe.opts.CAS, Conflict: true}
		c.render(w, r, http.StatusConflict, "preview", p)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, savedAt(name, v.Version), http.StatusSeeOther)
}

// Operations behind a confirmation page.
const (
	opRollback = "rollback"
	opDelete   = "delete"
	opUndelete = "undelete"
)

type confirmData struct {
	Op     string
	Name   string
	To     int
	CAS    int
	Detail SecretDetail
}

// confirmFormData is the data of GET /ui/{rollback,delete,undelete}/{name},
// which asks before doing it.
func confirmFormData(op string) func(r *http.Request, name string, d SecretDetail) (any, error) {
	return func(r *http.Request, name string, d SecretDetail) (any, error) {
		cd := confirmData{Op: op, Name: name, CAS: d.Row.Secret.CurrentVersion, Detail: d}
		if op == opRollback {
			to, err := strconv.Atoi(r.URL.Query().Get("to"))
			if err != nil || to < 1 || to > d.Row.Secret.CurrentVersion {
				return nil, inputError("to: want a version of this secret")
			}
			cd.To = to
		}
		return cd, nil
	}
}

// rollback: POST /ui/rollback/{name} with to and cas.
func (c *Console) rollback(r *http.Request, ss *session, name string) (string, error) {
	to, err1 := strconv.Atoi(r.PostFormValue("to"))
	cas, err2 := strconv.Atoi(r.PostFormValue("cas"))
	if err1 != nil || err2 != nil || to < 1 || cas < 1 {
		return "", inputError("to and cas: want version numbers")
	}
	v, err := c.b.Rollback(r.Context(), ss.who, name, to, cas)
	return savedAt(name, v.Version), err
}

// deleteSecret: POST /ui/delete/{name}.
func (c *Console) deleteSecret(r *http.Request, ss *session, name string) (string, error) {
	return Prefix + "secret/" + name, c.b.Delete(r.Context(), ss.who, name)
}

// undeleteSecret: POST /ui/undelete/{name}.
func (c *Console) undeleteSecret(r *http.Request, ss *session, name string) (string, error) {
	return Prefix + "secret/" + name, c.b.Undelete(r.Context(), ss.who, name)
}

type rotateData struct {
	Detail   SecretDetail
	Generate bool // the class is one sa01-secrets generates
}

// rotateFormData is the data of GET /ui/rotate/{name}, the form to
// replace a secret (a responder's way to replace a compromised one).
func rotateFormData(_ *http.Request, _ string, d SecretDetail) (any, error) {
	cl := d.Row.Secret.Class
	return rotateData{Detail: d, Generate: cl == store.ClassEncryptionKey || cl == store.ClassInternalToken}, nil
}

// rotate: POST /ui/rotate/{name} writes the replacement.
func (c *Console) rotate(r *http.Request, ss *session, name string) (string, error) {
	cas, err := strconv.Atoi(r.PostFormValue("cas"))
	if err != nil || cas < 1 {
		return "", inputError("cas: want the version the form was opened on")
	}
	v := strings.TrimRight(r.PostFormValue("value"), "\r\n")
	if len(v) > secrets.MaxValueSize {
		return "", inputError("value: at most 64 KiB")
	}
	nv, err := c.b.Rotate(r.Context(), ss.who, name, sensitive.New(v), cas)
	return savedAt(name, nv.Version), err
}
