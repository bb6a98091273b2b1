import http.server
import io
import logging
import os
import tempfile
import threading
import time
import unittest

try:
    import cryptography  # noqa: F401
    HAVE_CRYPTO = True
except ImportError:  # pragma: no cover
    HAVE_CRYPTO = False

from tests import server as srv

if HAVE_CRYPTO:
    from sa01_secrets import Client, Denied, NotFound, SecretsError, Unauthenticated, Unavailable
    from sa01_secrets.client import MAX_ANSWER

BIN = srv.binary() if HAVE_CRYPTO else None


@unittest.skipIf(not HAVE_CRYPTO, "cryptography is not installed")
@unittest.skipIf(BIN is None, "no sa01-secrets binary (set SA01_SECRETS_BIN or install go)")
class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = srv.Server({"llm/openai_api_key": "sk-openai-0123456789", "other/x": "not-for-gateway"}, token_ttl="3s")

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def client(self, **kw):
        c = Client(addr=self.srv.addr, credential_file=self.srv.credential_file, **kw)
        self.addCleanup(c.close)
        return c

    def test_get_and_typed_errors(self):
        c = self.client()
        self.assertEqual(c.get("llm/openai_api_key"), "sk-openai-0123456789")
        with self.assertRaises(Denied) as cm:
            c.get("other/x")
        self.assertNotIn("not-for-gateway", str(cm.exception))
        with self.assertRaises(NotFound):
            c.get("llm/missing")

    def test_environment(self):
        env = {"SA01_SECRETS_ADDR": self.srv.addr, "SA01_SECRETS_CREDENTIAL_FILE": self.srv.credential_file}
        c = Client(environ=env)
        self.addCleanup(c.close)
        self.assertEqual(c.get("llm/openai_api_key"), "sk-openai-0123456789")
        with self.assertRaises(ValueError):
            Client(environ={})

    def test_bad_credential(self):
        bad = os.path.join(self.srv.dir, "bad")
        with open(bad, "w") as fh:
            fh.write("sa01c_" + "A" * 43)
        with self.assertRaises(Unauthenticated) as cm:
            Client(addr=self.srv.addr, credential_file=bad)
        self.assertNotIn("A" * 43, str(cm.exception))
        with self.assertRaises(Unauthenticated):
            Client(addr=self.srv.addr, credential_file=os.path.join(self.srv.dir, "none"))

    def test_renews_in_the_background(self):
        # Session tokens live 3s: the renewing client keeps its token alive
        # past that; one that does not renew has to log in again.
        c = self.client()
        tok = c._token
        time.sleep(5)
        self.assertEqual(c._token, tok, "the renewing client logged in again")
        c._cache.clear()
        self.assertEqual(c.get("llm/openai_api_key"), "sk-openai-0123456789")
        self.assertEqual(c._token, tok)
        lazy = self.client(renew=False)
        tok = lazy._token
        time.sleep(4)
        self.assertEqual(lazy.get("llm/openai_api_key"), "sk-openai-0123456789")  # logs in again
        self.assertNotEqual(lazy._token, tok)

    def test_log_filter_masks_handed_out_values(self):
        c = self.client()
        log = logging.getLogger("test.sa01.mask")
        log.propagate = False
        buf = io.StringIO()
        h = logging.StreamHandler(buf)
        h.addFilter(c.log_filter())
        log.addHandler(h)
        self.addCleanup(log.removeHandler, h)
        v = c.get("llm/openai_api_key")
        log.warning("calling the provider with %s", v)
        log.warning("key=" + v + " in the message itself")
        try:
            raise RuntimeError("failed with " + v)
        except RuntimeError:
            log.exception("boom")
        out = buf.getvalue()
        self.assertNotIn(v, out)
        self.assertIn("calling the provider with ****", out)
        self.assertIn("key=**** in the message itself", out)
        self.assertIn("RuntimeError: failed with ****", out)


@unittest.skipIf(not HAVE_CRYPTO, "cryptography is not installed")
@unittest.skipIf(BIN is None, "no sa01-secrets binary (set SA01_SECRETS_BIN or install go)")
class OutageTest(unittest.TestCase):
    def test_serves_the_last_value_while_the_server_is_briefly_down(self):
        s = srv.Server({"llm/k": "value-one-2345"})
        self.addCleanup(s.close)
        c = Client(addr=s.addr, credential_file=s.credential_file, cache_ttl=0, stale_ttl=2)
        self.addCleanup(c.close)
        self.assertEqual(c.get("llm/k"), "value-one-2345")
        s.stop()
        self.assertEqual(c.get("llm/k"), "value-one-2345")  # from the cache
        with self.assertRaises(Unavailable):
            c.get("llm/other")  # never fetched: nothing to serve
        time.sleep(2.2)
        with self.assertRaises(Unavailable):
            c.get("llm/k")  # too old to serve
        s.start()
        self.assertEqual(c.get("llm/k"), "value-one-2345")


class _Oversized(http.server.BaseHTTPRequestHandler):
    """Answers every request with a token after more than MAX_ANSWER bytes
    of blanks: JSON that decodes, too long to read."""

    status = 200

    def do_POST(self):
        body = b" " * (MAX_ANSWER + 1) + b'{"token": "sa01s_from-a-long-answer", "code": "x", "message": "m"}'
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client stopped reading

    def log_message(self, *args):
        pass


@unittest.skipIf(not HAVE_CRYPTO, "cryptography is not installed")
class AnswerBoundTest(unittest.TestCase):
    def test_an_answer_larger_than_max_answer_is_refused(self):
        for status in (200, 401):
            handler = type("Handler", (_Oversized,), {"status": status})
            httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            self.addCleanup(httpd.server_close)
            self.addCleanup(httpd.shutdown)
            with tempfile.NamedTemporaryFile("w", suffix=".cred") as cred:
                cred.write("sa01c_credential")
                cred.flush()
                addr = "http://127.0.0.1:%d" % httpd.server_address[1]
                with self.assertRaises(SecretsError) as cm:
                    Client(addr=addr, credential_file=cred.name, renew=False)
                if status == 200:
                    self.assertEqual(cm.exception.code, "answer_too_large")
                    self.assertIn("larger than %d bytes" % MAX_ANSWER, str(cm.exception))
                else:
                    self.assertIsInstance(cm.exception, Unauthenticated)
                    self.assertNotIn(": m", str(cm.exception))  # the message was not read


if __name__ == "__main__":
    unittest.main()
