"""A PEP 517 build backend with no dependencies: it zips sa01_secrets/ into
a wheel (and the tree into an sdist), so the package installs where no
package registry is reachable."""

import base64
import hashlib
import io
import os
import tarfile
import zipfile

NAME, DIST, VERSION = "sa01-secrets", "sa01_secrets", "0.1.0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = "sa01_secrets"
TAG = "py3-none-any"

METADATA = """Metadata-Version: 2.1
Name: {name}
Version: {version}
Summary: sa01-secrets for Python services: fernet_from_env and a server client
Requires-Python: >=3.8
Requires-Dist: cryptography
""".format(name=NAME, version=VERSION)

WHEEL = """Wheel-Version: 1.0
Generator: sa01-secrets-backend
Root-Is-Purelib: true
Tag: {tag}
""".format(tag=TAG)


def _files():
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, PKG)):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for f in sorted(filenames):
            if f.endswith(".py"):
                full = os.path.join(dirpath, f)
                yield full, os.path.relpath(full, ROOT).replace(os.sep, "/")


def _digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    d = os.path.join(metadata_directory, "%s-%s.dist-info" % (DIST, VERSION))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w") as f:
        f.write(METADATA)
    with open(os.path.join(d, "WHEEL"), "w") as f:
        f.write(WHEEL)
    return os.path.basename(d)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "%s-%s-%s.whl" % (DIST, VERSION, TAG)
    info = "%s-%s.dist-info" % (DIST, VERSION)
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        entries = [(arc, open(full, "rb").read()) for full, arc in _files()]
        entries += [(info + "/METADATA", METADATA.encode()), (info + "/WHEEL", WHEEL.encode())]
        for arc, data in entries:
            z.writestr(arc, data)
            record.append("%s,%s,%d" % (arc, _digest(data), len(data)))
        record.append(info + "/RECORD,,")
        z.writestr(info + "/RECORD", "\n".join(record) + "\n")
    return name


def build_sdist(sdist_directory, config_settings=None):
    base = "%s-%s" % (DIST, VERSION)
    name = base + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in ["pyproject.toml", "_build/backend.py"]:
            t.add(os.path.join(ROOT, rel), arcname=base + "/" + rel)
        for full, arc in _files():
            t.add(full, arcname=base + "/" + arc)
        pkg = io.BytesIO(METADATA.encode())
        ti = tarfile.TarInfo(base + "/PKG-INFO")
        ti.size = len(pkg.getvalue())
        t.addfile(ti, pkg)
    return name
