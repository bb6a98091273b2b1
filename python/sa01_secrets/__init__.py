"""sa01-secrets for the platform's Python services.

- ``fernet_from_env()``: a MultiFernet over SA01_CRYPTO_FERNET_KEY and
  SA01_CRYPTO_FERNET_PREVIOUS_KEYS, so tokens keep decrypting after a
  rotation.
- ``Client``: secrets from the sa01-secrets server, with the identity's
  credential, background renewal, a short cache and a log filter.

Standard library and ``cryptography`` only.
"""

from .client import (Client, Denied, MaskingFilter, NotFound, SecretsError, Unauthenticated,
                     Unavailable)
from .keys import KeyConfigError, fernet_from_env, key_id, keys_from_env

__all__ = [
    "Client", "Denied", "KeyConfigError", "MaskingFilter", "NotFound", "SecretsError",
    "Unauthenticated", "Unavailable", "fernet_from_env", "key_id", "keys_from_env",
]

__version__ = "0.1.0"
