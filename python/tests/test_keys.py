import os
import tempfile
import unittest

try:
    from cryptography.fernet import Fernet, InvalidToken
except ImportError:  # pragma: no cover
    Fernet = None

if Fernet is not None:
    from sa01_secrets import KeyConfigError, fernet_from_env, key_id

ENV_KEY = "SA01_CRYPTO_FERNET_KEY"
ENV_PREV = "SA01_CRYPTO_FERNET_PREVIOUS_KEYS"


@unittest.skipIf(Fernet is None, "cryptography is not installed")
class FernetFromEnvTest(unittest.TestCase):
    def setUp(self):
        self.k1 = Fernet.generate_key().decode()
        self.k2 = Fernet.generate_key().decode()
        self.k3 = Fernet.generate_key().decode()

    def test_policy_example_keeps_decrypting_after_rotation(self):
        # The gateway as the policy writes it, before the rotation.
        old = Fernet(self.k1).encrypt(b"sk-openai")
        # After: SA01_CRYPTO_FERNET_KEY is the new key, the old one a previous key.
        f = fernet_from_env({ENV_KEY: self.k2, ENV_PREV: self.k1 + "," + self.k3})
        self.assertEqual(f.decrypt(old), b"sk-openai")
        new = f.encrypt(b"sk-anthropic")
        self.assertEqual(Fernet(self.k2).decrypt(new), b"sk-anthropic")  # the primary encrypts
        with self.assertRaises(InvalidToken):
            Fernet(self.k1).decrypt(new)
        # rotate moves a token to the primary, keeping its time
        rotated = f.rotate(old)
        self.assertEqual(Fernet(self.k2).decrypt(rotated), b"sk-openai")
        self.assertEqual(Fernet(self.k2).extract_timestamp(rotated), Fernet(self.k1).extract_timestamp(old))

    def test_primary_only_and_whitespace(self):
        f = fernet_from_env({ENV_KEY: " " + self.k1 + "\n", ENV_PREV: "  "})
        self.assertEqual(Fernet(self.k1).decrypt(f.encrypt(b"x")), b"x")

    def test_default_is_os_environ(self):
        saved = dict(os.environ)
        try:
            os.environ[ENV_KEY] = self.k1
            os.environ.pop(ENV_PREV, None)
            os.environ.pop(ENV_KEY + "_FILE", None)
            os.environ.pop(ENV_PREV + "_FILE", None)
            self.assertEqual(Fernet(self.k1).decrypt(fernet_from_env().encrypt(b"y")), b"y")
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def test_files(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "key")
            with open(p, "w") as fh:
                fh.write(self.k1 + "\n")
            f = fernet_from_env({ENV_KEY + "_FILE": p})
            self.assertEqual(Fernet(self.k1).decrypt(f.encrypt(b"z")), b"z")
            empty = os.path.join(d, "empty")
            open(empty, "w").close()
            self.assertErr({ENV_KEY + "_FILE": empty}, ENV_KEY + "_FILE: the file it names is empty")
            self.assertErr({ENV_KEY + "_FILE": os.path.join(d, "none")}, ENV_KEY + "_FILE: the file it names does not exist")
            self.assertErr({ENV_KEY + "_FILE": d}, ENV_KEY + "_FILE: the file it names is not a regular file")
            self.assertErr({ENV_KEY: self.k1, ENV_KEY + "_FILE": p},
                           ENV_KEY + ": both " + ENV_KEY + " and " + ENV_KEY + "_FILE are set; set one")

    def assertErr(self, env, want):
        with self.assertRaises(KeyConfigError) as cm:
            fernet_from_env(env)
        msg = str(cm.exception)
        self.assertEqual(msg, want)
        for v in env.values():
            if len(v) > 8 and not v.startswith("/"):
                self.assertNotIn(v.strip(), msg)
                for part in v.split(","):
                    if len(part.strip()) > 8:
                        self.assertNotIn(part.strip(), msg)

    def test_errors_name_the_variable_never_the_value(self):
        k1 = self.k1
        cases = [
            ({}, ENV_KEY + ": not set"),
            ({ENV_PREV: k1}, ENV_KEY + ": not set, but " + ENV_PREV + " is"),
            ({ENV_KEY: k1 + "," + self.k2}, ENV_KEY + ": holds more than one key; put older keys in " + ENV_PREV),
            ({ENV_KEY: k1[:43]}, ENV_KEY + ": malformed Fernet key: missing '=' padding; want 44 characters of URL-safe base64"),
            ({ENV_KEY: k1[:40]}, ENV_KEY + ": malformed Fernet key: wrong length; want 44 characters of URL-safe base64 encoding 32 bytes"),
            ({ENV_KEY: k1.replace(k1[5], "+", 1) if k1[5] not in "+/" else k1},
             ENV_KEY + ": malformed Fernet key: standard base64 alphabet ('+' or '/'); want URL-safe base64 ('-' and '_')"),
            ({ENV_KEY: k1[:10] + "!" + k1[11:]}, ENV_KEY + ": malformed Fernet key: not URL-safe base64"),
            ({ENV_KEY: k1, ENV_PREV: self.k2 + ",not-a-key"},
             ENV_PREV + " (entry 2): malformed Fernet key: wrong length; want 44 characters of URL-safe base64 encoding 32 bytes"),
            ({ENV_KEY: k1, ENV_PREV: self.k2 + ","}, ENV_PREV + " (entry 2): malformed Fernet key: empty"),
            ({ENV_KEY: k1, ENV_PREV: self.k2 + "," + k1},
             ENV_PREV + " (entry 2): repeats " + ENV_KEY + " (key " + key_id(k1) + "); list each key once"),
            ({ENV_KEY: k1, ENV_PREV: self.k2 + "," + self.k2},
             ENV_PREV + " (entry 2): repeats " + ENV_PREV + " (entry 1) (key " + key_id(self.k2) + "); list each key once"),
        ]
        for env, want in cases:
            with self.subTest(want=want):
                self.assertErr(env, want)

    def test_non_canonical_last_character(self):
        # 32 bytes leave 2 unused bits in the 43rd character: they must be 0
        k = self.k1
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        i = alphabet.index(k[42])
        bad = k[:42] + alphabet[i | 1] + "="
        self.assertErr({ENV_KEY: bad}, ENV_KEY + ": malformed Fernet key: not URL-safe base64")

    def test_key_id_is_stable_and_one_way(self):
        self.assertRegex(key_id(self.k1), r"^[0-9a-f]{12}$")
        self.assertEqual(key_id(self.k1), key_id(self.k1.encode()))
        self.assertNotEqual(key_id(self.k1), key_id(self.k2))
        self.assertNotIn(key_id(self.k1), self.k1)


if __name__ == "__main__":
    unittest.main()
