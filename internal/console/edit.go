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

// handleEditForm: GET /ui/edit/{name} is the form for a new version; it
// carries the current version, which the write must still find (CAS).
func (c *Console) handleEditForm(w http.ResponseWriter, r *http.Request) {
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
	p := c.newPage(r, "Edit "+name, "secrets")
	p.Data = editData{Name: name, CAS: d.Row.Secret.CurrentVersion, Secret: d.Row.Secret, Classes: store.Classes}
	c.render(w, r, http.StatusOK, "edit", p)
}

// editForm reads the value and metadata of an edit form.
func editForm(r *http.Request) (sensitive.String, secrets.PutOptions, int, error) {
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
	if v == "" {
		return sensitive.String{}, o, 0, inputError("value: empty")
	}
	if len(v) > secrets.MaxValueSize {
		return sensitive.String{}, o, 0, inputError("value: %d bytes; at most %d (64 KiB)", len(v), secrets.MaxValueSize)
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
	c.preview(w, r, name)
}

// handleEditPreview: POST /ui/edit/{name} shows the masked diff of the
// submitted value against the current version, and holds the value in the
// session until the operator saves it or leaves.
func (c *Console) handleEditPreview(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.preview(w, r, name)
}

func (c *Console) preview(w http.ResponseWriter, r *http.Request, name string) {
	value, o, cas, err := editForm(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ss := sessionFrom(r.Context())
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
func (c *Console) handleSave(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ss := sessionFrom(r.Context())
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
	http.Redirect(w, r, Prefix+"secret/"+name+"?saved="+strconv.Itoa(v.Version), http.StatusSeeOther)
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

// handleConfirm: GET /ui/{rollback,delete,undelete}/{name} asks before
// doing it.
func (c *Console) handleConfirm(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
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
		cd := confirmData{Op: op, Name: name, CAS: d.Row.Secret.CurrentVersion, Detail: d}
		if op == opRollback {
			to, err := strconv.Atoi(r.URL.Query().Get("to"))
			if err != nil || to < 1 || to > d.Row.Secret.CurrentVersion {
				c.fail(w, r, inputError("to: want a version of this secret"))
				return
			}
			cd.To = to
		}
		p := c.newPage(r, strings.ToUpper(op[:1])+op[1:]+" "+name, "secrets")
		p.Data = cd
		c.render(w, r, http.StatusOK, "confirm", p)
	}
}

// handleRollback: POST /ui/rollback/{name} with to and cas.
func (c *Console) handleRollback(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	to, err1 := strconv.Atoi(r.PostFormValue("to"))
	cas, err2 := strconv.Atoi(r.PostFormValue("cas"))
	if err1 != nil || err2 != nil || to < 1 || cas < 1 {
		c.fail(w, r, inputError("to and cas: want version numbers"))
		return
	}
	ss := sessionFrom(r.Context())
	v, err := c.b.Rollback(r.Context(), ss.who, name, to, cas)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"secret/"+name+"?saved="+strconv.Itoa(v.Version), http.StatusSeeOther)
}

// handleDelete: POST /ui/delete/{name}.
func (c *Console) handleDelete(w http.ResponseWriter, r *http.Request) {
	c.deleteOrUndelete(w, r, true)
}

// handleUndelete: POST /ui/undelete/{name}.
func (c *Console) handleUndelete(w http.ResponseWriter, r *http.Request) {
	c.deleteOrUndelete(w, r, false)
}

func (c *Console) deleteOrUndelete(w http.ResponseWriter, r *http.Request, del bool) {
	name, err := secretName(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ss := sessionFrom(r.Context())
	if del {
		err = c.b.Delete(r.Context(), ss.who, name)
	} else {
		err = c.b.Undelete(r.Context(), ss.who, name)
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"secret/"+name, http.StatusSeeOther)
}

type rotateData struct {
	Detail   SecretDetail
	Generate bool // the class is one sa01-secrets generates
}

// handleRotateForm: GET /ui/rotate/{name} is the form to replace a secret
// (a responder's way to replace a compromised one).
func (c *Console) handleRotateForm(w http.ResponseWriter, r *http.Request) {
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
	cl := d.Row.Secret.Class
	p := c.newPage(r, "Rotate "+name, "secrets")
	p.Data = rotateData{Detail: d, Generate: cl == store.ClassEncryptionKey || cl == store.ClassInternalToken}
	c.render(w, r, http.StatusOK, "rotate", p)
}

// handleRotate: POST /ui/rotate/{name} writes the replacement.
func (c *Console) handleRotate(w http.ResponseWriter, r *http.Request) {
	name, err := secretName(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cas, err := strconv.Atoi(r.PostFormValue("cas"))
	if err != nil || cas < 1 {
		c.fail(w, r, inputError("cas: want the version the form was opened on"))
		return
	}
	v := strings.TrimRight(r.PostFormValue("value"), "\r\n")
	if len(v) > secrets.MaxValueSize {
		c.fail(w, r, inputError("value: at most 64 KiB"))
		return
	}
	ss := sessionFrom(r.Context())
	nv, err := c.b.Rotate(r.Context(), ss.who, name, sensitive.New(v), cas)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"secret/"+name+"?saved="+strconv.Itoa(nv.Version), http.StatusSeeOther)
}
