"""A client for the sa01-secrets server, for the platform's Python services.

``Client()`` logs in with the identity's credential (the file named by
``SA01_SECRETS_CREDENTIAL_FILE``) at ``SA01_SECRETS_ADDR``, renews its
session token in the background before it expires, and ``get(name)``
returns a secret's value with a short cache that keeps serving the last
value while the server is briefly unreachable. Errors are typed
(``Denied``, ``NotFound``, ``Unauthenticated``, ``Unavailable``) and never
hold a value. ``client.log_filter()`` is a ``logging.Filter`` that masks
every value the client has handed out.
"""

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ENV_ADDR = "SA01_SECRETS_ADDR"
ENV_CREDENTIAL_FILE = "SA01_SECRETS_CREDENTIAL_FILE"

MASK = "****"

# The most bytes of one server answer the client reads, as the Go client:
# a larger answer is an error, not memory without end.
MAX_ANSWER = 16 << 20

_log = logging.getLogger("sa01_secrets")


class SecretsError(Exception):
    """An error from sa01-secrets. ``code`` is the server's error code."""

    code = "error"

    def __init__(self, message, code=None):
        super().__init__(message)
        if code:
            self.code = code


class Unauthenticated(SecretsError):
    """The credential or the session token was refused (401)."""

    code = "unauthenticated"


class Denied(SecretsError):
    """The identity is not granted this (403)."""

    code = "denied"


class NotFound(SecretsError):
    """No such secret (404)."""

    code = "not_found"


class Unavailable(SecretsError):
    """The server could not be reached and no recent value is cached."""

    code = "unavailable"


class MaskingFilter(logging.Filter):
    """Replaces every value in ``values`` (a callable returning the current
    set) with ``****`` in a record's message, arguments and exception text.
    Values shorter than 4 characters are not masked: they would mangle
    every log line."""

    def __init__(self, values):
        super().__init__()
        self._values = values

    def _mask(self, s):
        for v in sorted(self._values(), key=len, reverse=True):
            if v in s:
                s = s.replace(v, MASK)
        return s

    def filter(self, record):
        vals = self._values()
        if not vals:
            return True
        try:
            msg = record.getMessage()
        except Exception:  # a bad format string: mask what there is
            msg = str(record.msg)
        record.msg, record.args = self._mask(msg), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self._mask(record.stack_info)
        return True


def _read_credential(path):
    try:
        with open(path, "r", encoding="utf-8") as fh:
            cred = fh.read().strip()
    except (OSError, UnicodeDecodeError):
        raise Unauthenticated("%s: cannot read the credential file %s" % (ENV_CREDENTIAL_FILE, path)) from None
    if not cred:
        raise Unauthenticated("%s: the credential file %s is empty" % (ENV_CREDENTIAL_FILE, path))
    return cred


class Client:
    """A logged-in session with the sa01-secrets server.

    addr: the server URL (default ``SA01_SECRETS_ADDR``).
    credential_file: the identity's credential (default
    ``SA01_SECRETS_CREDENTIAL_FILE``); read at each login, so a rotated
    credential is picked up.
    cache_ttl: seconds a value is served from the cache without asking.
    stale_ttl: seconds a cached value is still served while the server is
    unreachable.
    """

    def __init__(self, addr=None, credential_file=None, cache_ttl=30.0,
                 stale_ttl=300.0, timeout=5.0, environ=None, renew=True):
        env = os.environ if environ is None else environ
        addr = addr or env.get(ENV_ADDR, "")
        if not addr:
            raise ValueError("%s is not set: the server's URL" % ENV_ADDR)
        if not (addr.startswith("http://") or addr.startswith("https://")):
            raise ValueError("%s: want an http:// or https:// URL" % ENV_ADDR)
        self.addr = addr.rstrip("/")
        self.credential_file = credential_file or env.get(ENV_CREDENTIAL_FILE, "")
        if not self.credential_file:
            raise ValueError("%s is not set: the file holding this identity's credential" % ENV_CREDENTIAL_FILE)
        self.cache_ttl = cache_ttl
        self.stale_ttl = stale_ttl
        self.timeout = timeout
        self._lock = threading.RLock()
        self._token = None
        self._expires = 0.0
        self._cache = {}  # name -> (value, monotonic time fetched)
        self._handed = set()
        self._stop = threading.Event()
        self._thread = None
        self.login()
        if renew:
            self._thread = threading.Thread(target=self._renew_loop, name="sa01-secrets-renew", daemon=True)
            self._thread.start()

    # -- transport ---------------------------------------------------------

    def _request(self, method, path, token, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.addr + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + token)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read(MAX_ANSWER + 1)
                if len(raw) > MAX_ANSWER:
                    raise SecretsError("%s %s: the server's answer is larger than %d bytes"
                                       % (method, path.split("?")[0], MAX_ANSWER), "answer_too_large")
                return json.loads(raw or b"{}")
        except urllib.error.HTTPError as e:
            try:
                raw = e.read(MAX_ANSWER + 1)
                doc = json.loads(raw or b"{}") if len(raw) <= MAX_ANSWER else {}
            except (ValueError, OSError):
                doc = {}
            if not isinstance(doc, dict):
                doc = {}
            code = doc.get("code", "")
            msg = "%s %s: %s" % (method, path.split("?")[0], doc.get("message") or e.reason)
            if e.code == 401:
                raise Unauthenticated(msg, code) from None
            if e.code == 403:
                raise Denied(msg, code) from None
            if e.code == 404:
                raise NotFound(msg, code) from None
            if e.code >= 500:
                raise Unavailable(msg, code or "unavailable") from None
            raise SecretsError(msg, code) from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", e)
            raise Unavailable("%s %s: cannot reach %s: %s" % (method, path.split("?")[0], self.addr, reason)) from None

    # -- session -----------------------------------------------------------

    def login(self):
        """Logs in with the credential (it names the identity) and keeps
        the session token."""
        cred = _read_credential(self.credential_file)
        doc = self._request("POST", "/v1/auth/login", cred, {})
        tok = doc.get("token", "")
        if not tok:
            raise Unauthenticated("POST /v1/auth/login: no token in the answer")
        with self._lock:
            self._token = tok
            self._expires = time.monotonic() + self._ttl(doc)

    @staticmethod
    def _ttl(doc):
        ttl = doc.get("ttl_seconds")
        if isinstance(ttl, (int, float)) and ttl > 0:
            return float(ttl)
        return 3600.0

    def renew(self):
        """Renews the session token; logs in again when it cannot be
        renewed (past its maximum lifetime, revoked)."""
        with self._lock:
            tok = self._token
        try:
            doc = self._request("POST", "/v1/auth/renew", tok)
            with self._lock:
                self._expires = time.monotonic() + self._ttl(doc)
            if doc.get("renewable") is False:
                self.login()
        except (Unauthenticated, Denied, SecretsError) as e:
            if isinstance(e, Unavailable):
                raise
            self.login()

    def _renew_loop(self):
        while not self._stop.is_set():
            with self._lock:
                left = self._expires - time.monotonic()
            # renew at two thirds of the lifetime left, at least every 5s
            # when close, never busy-looping
            wait = max(1.0, left * 2.0 / 3.0) if left > 3 else 1.0
            if self._stop.wait(wait):
                return
            try:
                self.renew()
            except SecretsError as e:
                _log.warning("sa01-secrets: renewing the session failed: %s", e)

    def close(self):
        """Stops renewal and revokes the session token."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            tok, self._token = self._token, None
        if tok:
            try:
                self._request("POST", "/v1/auth/revoke", tok, {})
            except SecretsError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- secrets -----------------------------------------------------------

    def get(self, name):
        """The current value of secret ``name``.

        Served from the cache for ``cache_ttl`` seconds; while the server is
        unreachable, the last value is served for ``stale_ttl`` seconds.
        Raises Denied, NotFound, Unauthenticated or Unavailable; a
        SecretsError with code ``not_text`` for a version an older release
        stored as bytes that are not UTF-8 text, which the server refuses
        to send changed (values are text: binary data is stored encoded,
        e.g. base64, and decoded by the service).
        """
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(name)
        if hit and now - hit[1] < self.cache_ttl:
            return hit[0]
        path = "/v1/secrets/" + urllib.parse.quote(name, safe="/")
        try:
            try:
                doc = self._request("GET", path, self._token or "")
            except Unauthenticated:
                self.login()  # expired or revoked session: once more
                doc = self._request("GET", path, self._token or "")
        except Unavailable:
            if hit and now - hit[1] < self.stale_ttl:
                _log.warning("sa01-secrets: server unreachable; serving the cached value of %s", name)
                return hit[0]
            raise
        except (Denied, NotFound):
            with self._lock:
                self._cache.pop(name, None)
            raise
        value = doc.get("value")
        if not isinstance(value, str):
            raise SecretsError("GET %s: no value in the answer" % path)
        with self._lock:
            self._cache[name] = (value, time.monotonic())
            self._handed.add(value)
        return value

    def values(self):
        """The set of values handed out so far (for masking)."""
        with self._lock:
            return {v for v in self._handed if len(v) >= 4}

    def log_filter(self):
        """A logging.Filter masking every value this client has handed out:
        ``logging.getLogger().addFilter(client.log_filter())`` (or add it
        to a handler, to cover every logger)."""
        return MaskingFilter(self.values)
