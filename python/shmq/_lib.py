# SPDX-License-Identifier: MIT
"""Finding libshmq and declaring its C API for ctypes.

The structs mirror include/shmq.h exactly (their sizes are checked by the
tests against the C library's ABI test). Nothing here is public.
"""
import ctypes
import ctypes.util
import glob
import os

# The ABI this binding is written for: libshmq.so.1 (shmq 0.2 and later 0.x).
SONAME = "libshmq.so.1"

SHMQ_FOREVER = -1
SHMQ_SPIN_FOREVER = 0xFFFFFFFF
SHMQ_MSG_REQUEST = 0x1
SHMQ_MSG_REPLY = 0x2
SHMQ_ANY_REQUEST = 0xFFFFFFFFFFFFFFFF
SHMQ_UID_NONE = 0xFFFFFFFF
SHMQ_MAX_INFLIGHT = 4096
SHMQ_MAX_SLOTS = 1024
SHMQ_MIN_RING_SIZE = 256
SHMQ_MAX_RING_SIZE = 1 << 30
SHMQ_NAME_MAX = 200
SHMQ_REMOVE_FORCE = 0x1

uid_t = ctypes.c_uint32
pid_t = ctypes.c_int32


class shmq_config(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("key", ctypes.c_int),
        ("mode", ctypes.c_uint),
        ("slots", ctypes.c_uint),
        ("ring_size", ctypes.c_size_t),
        ("spin_us", ctypes.c_uint32),
        ("trusted_uid", uid_t),
        ("reserved_", ctypes.c_uint64 * 8),
    ]


class shmq_client_id(ctypes.Structure):
    _fields_ = [("slot", ctypes.c_uint32), ("gen", ctypes.c_uint32)]


class shmq_msg(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("len", ctypes.c_size_t),
        ("from_", shmq_client_id),
        ("flags", ctypes.c_uint32),
        ("id", ctypes.c_uint64),
        ("reserved_", ctypes.c_uint64 * 2),
    ]


class shmq_client_info(ctypes.Structure):
    _fields_ = [
        ("id", shmq_client_id),
        ("pid", pid_t),
        ("uid", uid_t),
        ("msgs_in", ctypes.c_uint64),
        ("msgs_out", ctypes.c_uint64),
        ("reserved_", ctypes.c_uint64 * 6),
    ]


class shmq_client_stats(ctypes.Structure):
    _fields_ = [
        ("msgs_out", ctypes.c_uint64),
        ("msgs_in", ctypes.c_uint64),
        ("inflight", ctypes.c_uint64),
        ("late_replies", ctypes.c_uint64),
        ("held", ctypes.c_uint64),
        ("reserved_", ctypes.c_uint64 * 3),
    ]


def _checkout_build_dirs():
    """Build directories of the shmq checkout this package belongs to.

    From a checkout, python/shmq/ sits two levels below the repository root,
    whose build/ is where `cmake -B build` puts libshmq. An installed copy
    (pip install ./python) remembers the checkout it was built from in
    _checkout.py; that directory is used only while it still holds a library.
    """
    dirs = []
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    if os.path.isfile(os.path.join(root, "include", "shmq.h")):
        dirs.append(os.path.join(root, "build"))
    try:
        from . import _checkout  # written by the build backend, if at all
        dirs.append(_checkout.BUILD_DIR)
    except ImportError:
        pass
    return dirs


def _in_dir(d):
    """The library in build directory d: the SONAME first, then any other."""
    for name in (SONAME, "libshmq.so"):
        p = os.path.join(d, name)
        if os.path.isfile(p):
            return p
    found = sorted(glob.glob(os.path.join(d, "libshmq.so.*")))
    return found[0] if found else None


def candidates():
    """Where to look for libshmq, in order (for the error message too)."""
    out = []
    env = os.environ.get("SHMQ_LIBRARY")
    if env:
        out.append(("SHMQ_LIBRARY", _in_dir(env) if os.path.isdir(env) else env))
        return out  # an explicit choice is not second-guessed
    for d in _checkout_build_dirs():
        p = _in_dir(d)
        if p:
            out.append(("checkout build", p))
    found = ctypes.util.find_library("shmq")
    if found:
        out.append(("installed (ld cache)", found))
    out.append(("installed (dlopen path)", SONAME))
    return out


def load():
    tried = []
    for how, path in candidates():
        if not path:
            tried.append("%s: nothing there" % how)
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s: %s" % (how, e))
            continue
        _declare(lib)
        lib.shmq_path = os.path.abspath(path) if os.sep in path else path
        return lib
    raise ImportError(
        "shmq: cannot load libshmq (" + "; ".join(tried) + "). Build it "
        "(cmake -S . -B build && cmake --build build), install it "
        "(cmake --install build), or set SHMQ_LIBRARY to the library file."
    )


def _declare(lib):
    c = ctypes
    P = c.c_void_p
    PP = c.POINTER(c.c_void_p)
    cfg = c.POINTER(shmq_config)
    msg = c.POINTER(shmq_msg)
    protos = {
        "shmq_config_init": (None, [cfg]),
        "shmq_strerror": (c.c_char_p, [c.c_int]),
        "shmq_version": (c.c_char_p, []),
        "shmq_server_create": (c.c_int, [PP, cfg]),
        "shmq_server_shutdown": (c.c_int, [P]),
        "shmq_server_close": (c.c_int, [P]),
        "shmq_server_recv": (c.c_ssize_t, [P, P, c.c_size_t, msg, c.c_int]),
        "shmq_server_recv_view": (c.c_int, [P, msg, c.c_int]),
        "shmq_server_release": (c.c_int, [P, msg]),
        "shmq_server_reply": (c.c_int, [P, msg, P, c.c_size_t, c.c_int]),
        "shmq_server_send": (c.c_int, [P, shmq_client_id, P, c.c_size_t, c.c_int]),
        "shmq_server_max_msg": (c.c_size_t, [P]),
        "shmq_server_clients": (c.c_int, [P, c.POINTER(shmq_client_info), c.c_size_t]),
        "shmq_server_client_info": (c.c_int, [P, shmq_client_id,
                                              c.POINTER(shmq_client_info)]),
        "shmq_client_connect": (c.c_int, [PP, cfg]),
        "shmq_client_close": (c.c_int, [P]),
        "shmq_client_flush": (c.c_int, [P, c.c_int]),
        "shmq_client_send": (c.c_int, [P, P, c.c_size_t, c.c_int]),
        "shmq_client_recv": (c.c_ssize_t, [P, P, c.c_size_t, c.c_int]),
        "shmq_client_send_request": (c.c_int, [P, P, c.c_size_t,
                                               c.POINTER(c.c_uint64), c.c_int]),
        "shmq_client_recv_reply": (c.c_ssize_t, [P, c.c_uint64, P, c.c_size_t, msg,
                                                 c.c_int]),
        "shmq_client_recv_reply_view": (c.c_int, [P, c.c_uint64, msg, c.c_int]),
        "shmq_client_cancel": (c.c_int, [P, c.c_uint64]),
        "shmq_client_recv_view": (c.c_int, [P, msg, c.c_int]),
        "shmq_client_release": (c.c_int, [P, msg]),
        "shmq_client_check": (c.c_int, [P]),
        "shmq_client_max_msg": (c.c_size_t, [P]),
        "shmq_client_self": (shmq_client_id, [P]),
        "shmq_client_stat": (c.c_int, [P, c.POINTER(shmq_client_stats)]),
        "shmq_remove": (c.c_int, [cfg, c.c_uint]),
    }
    for name, (res, args) in protos.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
