package console

// htmx is vendored, not fetched: static/htmx.min.js is dist/htmx.min.js of
// the npm package htmx.org, unchanged, with its licence (0BSD) beside it in
// static/htmx.LICENSE.txt. To upgrade:
//
//	npm pack htmx.org@VERSION        # the registry's tarball
//	sha256sum htmx.org-VERSION.tgz   # record it below
//	tar xzf htmx.org-VERSION.tgz package/dist/htmx.min.js package/LICENSE
//
// then copy both files into static/, update the three constants, and run
// the tests (TestHTMXPinned checks the embedded file against them; the
// browser tests check the console still works under its CSP).
const (
	// HTMXVersion is the vendored htmx release.
	HTMXVersion = "2.0.11"
	// HTMXTarballSHA256 is the SHA-256 of htmx.org-2.0.11.tgz as the npm
	// registry served it.
	HTMXTarballSHA256 = "165a2655073e9e6e55e307a7c74e8ebcdb76afb7701f9c16cfd106a13add408e"
	// HTMXSHA256 is the SHA-256 of static/htmx.min.js.
	HTMXSHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
)
