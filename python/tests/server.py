"""Starts a real `sa01-secrets serve` for the tests: a store of its own,
a policy, secrets put beforehand, and a credential for one service."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def binary():
    """The sa01-secrets binary: $SA01_SECRETS_BIN, else built with go."""
    b = os.environ.get("SA01_SECRETS_BIN", "")
    if b:
        return b
    if not shutil.which("go"):
        return None
    out = os.path.join(tempfile.gettempdir(), "sa01-secrets-pytest-bin")
    subprocess.run(["go", "build", "-o", out, "./cmd/sa01-secrets"], cwd=REPO, check=True)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A serve process over a fresh SQLite store, with service `gateway`
    granted llm/* and credential in self.credential_file."""

    def __init__(self, secrets, token_ttl="1h"):
        self.bin = binary()
        self.dir = tempfile.mkdtemp(prefix="sa01-py-")
        key = subprocess.run([self.bin, "generate", "key"], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        db = "sqlite://" + os.path.join(self.dir, "s.db")
        policy = os.path.join(self.dir, "policy.yaml")
        with open(policy, "w") as fh:
            fh.write('services:\n  gateway: {read: ["llm/*"]}\n  worker: {read: ["other/*"]}\n')
        self.port = free_port()
        self.addr = "http://127.0.0.1:%d" % self.port
        self.credential_file = os.path.join(self.dir, "credential")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SA01_")}
        env.update({
            "SA01_CRYPTO_FERNET_KEY": key,
            "SA01_SECRETS_DB_DSN": db,
            "SA01_SECRETS_POLICY_FILE": policy,
            "SA01_SECRETS_LISTEN": "127.0.0.1:%d" % self.port,
            "SA01_SECRETS_TOKEN_TTL": token_ttl,
        })
        self.env = env
        # init makes the store and its first operator; the service gets its
        # own credential, written 0600, which is all the client logs in with.
        subprocess.run([self.bin, "init", "--credential-file", os.path.join(self.dir, "admin.credential")],
                       env=env, check=True, capture_output=True)
        subprocess.run([self.bin, "identity", "add", "gateway", "--service", "--credential-file", self.credential_file],
                       env=env, check=True, capture_output=True)
        for name, value in secrets.items():
            subprocess.run([self.bin, "put", name], input=value, text=True, env=env, check=True, capture_output=True)
        self.proc = None
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, "serve.log"), "ab")
        self.proc = subprocess.Popen([self.bin, "serve"], env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.addr + "/v1/sys/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        with open(os.path.join(self.dir, "serve.log")) as fh:
            raise RuntimeError("serve did not start:\n" + fh.read()[-2000:])

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def audit(self):
        out = subprocess.run([self.bin, "audit", "query", "--format", "json"], env=self.env, capture_output=True, text=True)
        try:
            return json.loads(out.stdout)
        except ValueError:
            return []
