# SPDX-License-Identifier: MIT
"""The build backend, pip install ./python, finding the library, and the
README's examples."""
import os
import re
import subprocess
import sys
import zipfile

import pytest

import shmq
from conftest import PYDIR, env, new_name

ROOT = os.path.dirname(PYDIR)


def run(args, timeout=60, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def test_backend_builds_a_wheel(tmp_path):
    sys.path.insert(0, os.path.join(PYDIR, "_backend"))
    try:
        import shmq_backend
    finally:
        sys.path.pop(0)
    assert shmq_backend.get_requires_for_build_wheel() == []  # nothing to download
    name = shmq_backend.build_wheel(str(tmp_path))
    assert name == "shmq-%s-py3-none-any.whl" % shmq.__version__
    with zipfile.ZipFile(tmp_path / name) as z:
        files = set(z.namelist())
        assert {"shmq/__init__.py", "shmq/_core.py", "shmq/_lib.py", "shmq/_errors.py",
                "shmq/_checkout.py"} <= files
        di = "shmq-%s.dist-info/" % shmq.__version__
        assert {di + "METADATA", di + "WHEEL", di + "RECORD"} <= files
        assert "Name: shmq" in z.read(di + "METADATA").decode()
        assert not any("tests/" in f or "__pycache__" in f for f in files)
    sdist = shmq_backend.build_sdist(str(tmp_path))
    assert sdist.endswith(".tar.gz")


def test_pip_install_works_offline(tmp_path):
    if run([sys.executable, "-m", "pip", "--version"]).returncode != 0:
        pytest.skip("no pip for %s" % sys.executable)
    target = tmp_path / "site"
    r = run([sys.executable, "-m", "pip", "install", "--no-index", "--no-cache-dir",
             "--disable-pip-version-check", "--target", str(target), PYDIR], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "shmq" / "_core.py").exists()
    # The installed copy, not the checkout's, outside the checkout.
    e = env()
    e["PYTHONPATH"] = str(target)
    name = new_name()
    code = ("import shmq, threading; s = shmq.Server(name=%r); c = shmq.Client(name=%r);"
            "rid = c.send_request(b'pip', timeout=1); m = s.recv(timeout=1);"
            "s.reply(m, m.data, timeout=1); print(shmq.__file__, c.recv_reply(rid, timeout=1));"
            "c.close(); s.close()" % (name, name))
    r = run([sys.executable, "-c", code], env=e, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(target)) and "b'pip'" in r.stdout


def test_library_lookup_order(tmp_path):
    e = env()
    e["SHMQ_LIBRARY"] = os.path.dirname(shmq.library_path())  # a directory works too
    r = run([sys.executable, "-c", "import shmq; print(shmq.library_path())"], env=e)
    assert r.returncode == 0 and r.stdout.strip().startswith(e["SHMQ_LIBRARY"]), r.stderr
    e["SHMQ_LIBRARY"] = str(tmp_path / "nowhere.so")
    r = run([sys.executable, "-c", "import shmq"], env=e)
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "SHMQ_LIBRARY" in r.stderr


def readme_examples():
    """The Python code blocks of the README's "Python" section."""
    text = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"^## Python\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "README has no Python section"
    return re.findall(r"```python\n(.*?)```", m.group(1), re.S)


def test_readme_echo_example(tmp_path):
    blocks = readme_examples()
    server = next(b for b in blocks if "shmq.Server" in b)
    client = next(b for b in blocks if "shmq.Client" in b)
    (tmp_path / "server.py").write_text(server)
    (tmp_path / "client.py").write_text(client)
    name = new_name()
    s = subprocess.Popen([sys.executable, str(tmp_path / "server.py"), name], env=env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        r = run([sys.executable, str(tmp_path / "client.py"), name], env=env(), timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "b'hello'\nb'\\x00binary\\x00'\n", r.stdout
    finally:
        s.send_signal(2)  # Ctrl-C: the example's server stops and removes its endpoint
        out, err = s.communicate(timeout=10)
    assert s.returncode == 0, err
    assert not os.path.exists("/dev/shm/" + name)
