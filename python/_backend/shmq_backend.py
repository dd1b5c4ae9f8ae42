# SPDX-License-Identifier: MIT
"""A PEP 517 / PEP 660 build backend for the shmq Python package, standard
library only.

Why not setuptools: pip builds a package in an isolated environment and
installs the backend named in pyproject.toml there first, from an index. On a
machine without one (offline, no wheel of setuptools in PIP_FIND_LINKS),
`pip install ./python` with the setuptools backend fails; with
--no-build-isolation it works only where setuptools is importable. This
backend needs nothing (requires = []), so the plain command works anywhere
pip does. The package is pure Python, so a wheel is a zip of shmq/ and three
metadata files.

The wheel also records where the checkout's build/ directory is
(shmq/_checkout.py), so that a package installed from a checkout finds the
libshmq built there, after $SHMQ_LIBRARY and before the installed one.
"""
import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # python/
PKG = "shmq"


def _project():
    text = open(os.path.join(HERE, "pyproject.toml"), encoding="utf-8").read()
    try:
        import tomllib
        return tomllib.loads(text)["project"]
    except ImportError:  # Python < 3.11: the few plain keys we use
        sect = text.split("[project]", 1)[1].split("\n[", 1)[0]
        out = {k: v for k, v in re.findall(r'^([\w-]+)\s*=\s*"([^"]*)"', sect, re.M)}
        lic = re.search(r'^license\s*=\s*\{\s*text\s*=\s*"([^"]*)"', sect, re.M)
        if lic:
            out["license"] = lic.group(1)
        return out


def _names():
    p = _project()
    return p, p["name"], p["version"]


def _metadata():
    p, name, version = _names()
    lines = ["Metadata-Version: 2.1", "Name: " + name, "Version: " + version]
    if p.get("description"):
        lines.append("Summary: " + p["description"])
    if p.get("requires-python"):
        lines.append("Requires-Python: " + p["requires-python"])
    lic = p.get("license")
    if isinstance(lic, dict):
        lic = lic.get("text")
    if lic:
        lines.append("License: " + lic)
    return "\n".join(lines) + "\n"


def _dist_info():
    _, name, version = _names()
    return "%s-%s.dist-info" % (re.sub(r"[-_.]+", "_", name), version)


def _wheel_name():
    _, name, version = _names()
    return "%s-%s-py3-none-any.whl" % (re.sub(r"[-_.]+", "_", name), version)


WHEEL = "Wheel-Version: 1.0\nGenerator: shmq_backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _package_files():
    out = []
    src = os.path.join(HERE, PKG)
    for f in sorted(os.listdir(src)):
        if f.endswith(".py") and f != "_checkout.py":
            out.append(("%s/%s" % (PKG, f), open(os.path.join(src, f), "rb").read()))
    root = os.path.dirname(HERE)
    if os.path.isfile(os.path.join(root, "include", "shmq.h")):
        build = os.path.join(root, "build")
        out.append(("%s/_checkout.py" % PKG,
                    ("# Written by the build backend: the checkout this was installed from.\n"
                     "BUILD_DIR = %r\n" % build).encode()))
    return out


def _write_wheel(directory, files):
    di = _dist_info()
    files = list(files) + [
        (di + "/METADATA", _metadata().encode()),
        (di + "/WHEEL", WHEEL.encode()),
        (di + "/top_level.txt", (PKG + "\n").encode()),
    ]
    record = []
    path = os.path.join(directory, _wheel_name())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in files:
            z.writestr(zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0)), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append("%s,sha256=%s,%d" % (arc, digest.decode(), len(data)))
        record.append(di + "/RECORD,,")
        z.writestr(zipfile.ZipInfo(di + "/RECORD", date_time=(2020, 1, 1, 0, 0, 0)),
                   "\n".join(record) + "\n")
    return os.path.basename(path)


# ---- PEP 517 ---------------------------------------------------------------
def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    di = os.path.join(metadata_directory, _dist_info())
    os.makedirs(di, exist_ok=True)
    with open(os.path.join(di, "METADATA"), "w") as f:
        f.write(_metadata())
    with open(os.path.join(di, "WHEEL"), "w") as f:
        f.write(WHEEL)
    return _dist_info()


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, _package_files())


def build_sdist(sdist_directory, config_settings=None):
    _, name, version = _names()
    base = "%s-%s" % (re.sub(r"[-_.]+", "_", name), version)
    path = os.path.join(sdist_directory, base + ".tar.gz")
    with tarfile.open(path, "w:gz") as t:
        for top in ("pyproject.toml", "_backend", PKG, "tests", "bench.py"):
            src = os.path.join(HERE, top)
            if os.path.exists(src):
                t.add(src, arcname="%s/%s" % (base, top),
                      filter=lambda i: None if "__pycache__" in i.name or
                      i.name.endswith("_checkout.py") else i)
        pkg_info = _metadata().encode()
        info = tarfile.TarInfo("%s/PKG-INFO" % base)
        info.size = len(pkg_info)
        t.addfile(info, io.BytesIO(pkg_info))
    return os.path.basename(path)


# ---- PEP 660: pip install -e ./python ----------------------------------------
get_requires_for_build_editable = get_requires_for_build_wheel
prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth file that puts python/ on sys.path: the package is used in place.
    return _write_wheel(wheel_directory, [("_shmq_editable.pth", (HERE + "\n").encode())])
