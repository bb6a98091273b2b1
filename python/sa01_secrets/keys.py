"""The platform's Fernet key ring from the environment, as sa01-secrets reads it.

``fernet_from_env()`` returns a ``MultiFernet`` over ``SA01_CRYPTO_FERNET_KEY``
then each of ``SA01_CRYPTO_FERNET_PREVIOUS_KEYS`` (comma-separated, newest
first): it encrypts with the primary and decrypts tokens made under any of
them, so code keeps reading old tokens after a rotation. Each variable may
instead name a file with ``NAME_FILE``. The validation and the error
messages are those of the Go side (internal/config); an error names the
variable and the entry, never the value.
"""

import base64
import hashlib
import hmac
import os
import re

from cryptography.fernet import Fernet, MultiFernet

ENV_KEY = "SA01_CRYPTO_FERNET_KEY"
ENV_PREVIOUS_KEYS = "SA01_CRYPTO_FERNET_PREVIOUS_KEYS"

_KEY_ID_LABEL = b"sa01-secrets/key-id/v1"
_B64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")


class KeyConfigError(ValueError):
    """A key variable is missing or malformed. ``var`` names the variable
    (and entry); the message never holds a key."""

    def __init__(self, var, reason):
        super().__init__("%s: %s" % (var, reason))
        self.var = var
        self.reason = reason


def key_id(key):
    """The key ID sa01-secrets names a key by: 12 hex characters derived
    one-way from the key (HMAC-SHA256 of a fixed label)."""
    raw = _parse(key)
    return hmac.new(raw, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:12]


def _parse(s):
    """The 32 raw bytes of a key, or ValueError with the Go side's reason."""
    if isinstance(s, bytes):
        s = s.decode("ascii", "replace")
    s = s.strip()
    if s == "":
        raise ValueError("empty")
    if "+" in s or "/" in s:
        raise ValueError("standard base64 alphabet ('+' or '/'); want URL-safe base64 ('-' and '_')")
    if len(s) == 43 and not s.endswith("="):
        raise ValueError("missing '=' padding; want 44 characters of URL-safe base64")
    if len(s) != 44:
        raise ValueError("wrong length; want 44 characters of URL-safe base64 encoding 32 bytes")
    if not _B64URL.match(s):
        raise ValueError("not URL-safe base64")
    try:
        raw = base64.urlsafe_b64decode(s)
    except (ValueError, TypeError):
        raise ValueError("not URL-safe base64") from None
    if base64.urlsafe_b64encode(raw).decode() != s:
        raise ValueError("not URL-safe base64")  # non-canonical last character
    if len(raw) != 32:
        raise ValueError("wrong length; want 32 bytes")
    return raw


def _parse_var(name, s):
    try:
        return _parse(s)
    except ValueError as e:
        raise KeyConfigError(name, "malformed Fernet key: %s" % e) from None


def _secret_var(environ, name):
    v, f = environ.get(name, ""), environ.get(name + "_FILE", "")
    if v and f:
        raise KeyConfigError(name, "both %s and %s_FILE are set; set one" % (name, name))
    if not f:
        return v
    try:
        with open(f, "r", encoding="utf-8") as fh:
            v = fh.read()
    except FileNotFoundError:
        raise KeyConfigError(name + "_FILE", "the file it names does not exist") from None
    except PermissionError:
        raise KeyConfigError(name + "_FILE", "the file it names cannot be read (permission denied)") from None
    except IsADirectoryError:
        raise KeyConfigError(name + "_FILE", "the file it names is not a regular file") from None
    except (OSError, UnicodeDecodeError):
        raise KeyConfigError(name + "_FILE", "cannot read the file it names") from None
    v = v.rstrip("\r\n")
    if v.strip() == "":
        raise KeyConfigError(name + "_FILE", "the file it names is empty")
    return v


def keys_from_env(environ=None):
    """The keys as URL-safe base64 bytes, primary first, validated."""
    if environ is None:
        environ = os.environ
    primary = _secret_var(environ, ENV_KEY)
    previous = _secret_var(environ, ENV_PREVIOUS_KEYS)
    if primary.strip() == "":
        if previous.strip() != "":
            raise KeyConfigError(ENV_KEY, "not set, but %s is" % ENV_PREVIOUS_KEYS)
        raise KeyConfigError(ENV_KEY, "not set")
    if "," in primary:
        raise KeyConfigError(ENV_KEY, "holds more than one key; put older keys in %s" % ENV_PREVIOUS_KEYS)
    raws = [_parse_var(ENV_KEY, primary)]
    names = [ENV_KEY]
    if previous.strip() != "":
        for i, s in enumerate(previous.split(",")):
            name = "%s (entry %d)" % (ENV_PREVIOUS_KEYS, i + 1)
            raw = _parse_var(name, s)
            for j, other in enumerate(raws):
                if hmac.compare_digest(raw, other):
                    kid = hmac.new(raw, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:12]
                    raise KeyConfigError(name, "repeats %s (key %s); list each key once" % (names[j], kid))
            raws.append(raw)
            names.append(name)
    return [base64.urlsafe_b64encode(r) for r in raws]


def fernet_from_env(environ=None):
    """A MultiFernet over SA01_CRYPTO_FERNET_KEY then each previous key.

    Replace ``Fernet(os.getenv('SA01_CRYPTO_FERNET_KEY'))`` with
    ``fernet_from_env()``: encryption still uses the primary key, and tokens
    made under a previous key still decrypt after a rotation.
    """
    return MultiFernet([Fernet(k) for k in keys_from_env(environ)])
