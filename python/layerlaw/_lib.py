"""The C library (liblayerlaw.so, host/api/layerlaw_api.h) through ctypes.

ctypes releases the GIL for the length of every call into the library, so
other Python threads run while statistics are added or solved."""
import ctypes
import os
import pathlib
import warnings

_HERE = pathlib.Path(__file__).resolve().parent
API_VERSION = 1


class Error(Exception):
    """A failure inside the layerlaw library: its one-line message.
    ``status`` is the command line's exit status (1 runtime, 2 bad input)."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


class InputError(Error, ValueError):
    """Bad input found by the library (status 2): both a layerlaw.Error and a ValueError."""

    def __init__(self, message, status=2):
        super().__init__(message, status)


def _candidates():
    env = os.environ.get("LAYERLAW_LIB")
    if env:
        yield pathlib.Path(env)
        return
    yield _HERE / "liblayerlaw.so"                       # installed (pip install .)
    root = _HERE.parents[1]                               # the repository (python/layerlaw/..)
    yield root / os.environ.get("LAYERLAW_BUILD", "build") / "liblayerlaw.so"


def _torch_first(p):
    """A library built with the CUDA backend needs libcublas, libcusolver and
    (with MPI) libnccl; once loaded from the CUDA toolkit, those would serve
    PyTorch too (the dynamic linker matches shared libraries by name), older
    than the ones torch ships: torch then fails to import (measured: undefined
    symbol ncclCommResume).  So where torch is installed and not yet imported,
    it is imported first: its CUDA libraries then serve both (newer, backward
    compatible)."""
    import importlib.util
    import sys
    if "torch" in sys.modules or importlib.util.find_spec("torch") is None:
        return
    try:
        with open(p, "rb") as f:
            needs_cuda = b"libcublas.so" in f.read()
    except OSError:
        return
    if needs_cuda:
        try:
            import torch  # noqa: F401
        except Exception:  # noqa: BLE001 - a broken torch: the library loads alone
            pass


def _load():
    # libgomp reads its settings when it is loaded (with the library, here): its
    # default spin at every barrier costs milliseconds per parallel region when
    # the cores are shared, so, as the command line does, a short spin unless
    # the user chose (OMP_WAIT_POLICY / GOMP_SPINCOUNT)
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = "1000"
    tried = []
    for p in _candidates():
        tried.append(str(p))
        if p.is_file():
            _torch_first(p)
            lib = ctypes.CDLL(str(p))
            break
    else:
        raise ImportError("layerlaw: the C library is not built (looked for " + ", ".join(tried) +
                          "); `pip install .` at the repository root, or `make shared` and set LAYERLAW_LIB")
    if lib.ll_api_version() != API_VERSION:
        raise ImportError(f"layerlaw: {p}: C API version {lib.ll_api_version()}, this package needs {API_VERSION}")
    c_p, c_i, c_l, c_d, c_s = ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_double, ctypes.c_size_t
    sig = {
        "ll_api_layerlaw_version": (ctypes.c_char_p, []),
        "ll_api_cuda_compiled": (c_i, []),
        "ll_api_last_error": (ctypes.c_char_p, []),
        "ll_api_take_warnings": (c_s, [ctypes.c_char_p, c_s]),
        "ll_api_stats_new": (c_p, [c_i, c_i, c_i, c_d, c_i, c_l, c_i]),
        "ll_api_stats_free": (None, [c_p]),
        "ll_api_stats_add": (c_i, [c_p, c_i, c_p, c_p, c_p, c_l]),
        "ll_api_stats_add_device": (c_i, [c_p, c_i, c_p, c_p, c_l]),
        "ll_api_stats_count": (c_l, [c_p]),
        "ll_api_stats_merge": (c_i, [c_p, c_p]),
        "ll_api_stats_solve": (c_i, [c_p, c_d, c_p]),
        "ll_api_stats_pack_len": (c_s, [c_p]),
        "ll_api_stats_pack": (c_i, [c_p, c_p]),
        "ll_api_stats_unpack": (c_i, [c_p, c_p, c_s]),
        "ll_api_law_fit": (c_i, [c_p, c_i, c_i, c_p]),
        "ll_api_write": (c_i, [ctypes.c_char_p, c_p, c_i, c_i, c_l, c_i, ctypes.c_char_p, ctypes.c_char_p, c_i]),
        "ll_api_write_files": (c_i, [ctypes.c_char_p, c_i, c_p, c_p, c_p]),
        "ll_api_figure": (c_i, [ctypes.c_char_p]),
        "ll_api_cli": (c_i, [c_i, c_p]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    return lib, p


lib, path = _load()


def last_error():
    return lib.ll_api_last_error().decode("utf-8", "replace")


def flush_warnings():
    """The library's warnings since the last call, as Python warnings."""
    buf = ctypes.create_string_buffer(8192)
    if lib.ll_api_take_warnings(buf, len(buf)):
        for line in buf.value.decode("utf-8", "replace").splitlines():
            if line:
                warnings.warn("layerlaw: " + line, RuntimeWarning, stacklevel=3)


def check(rc):
    """Raises for a non-zero status of an ll_api_* call (-2: bad input)."""
    flush_warnings()
    if rc == 0:
        return
    msg = last_error()
    if rc == -2:
        raise InputError(msg)
    raise Error(msg)


def cuda_compiled():
    return bool(lib.ll_api_cuda_compiled())


def version():
    return lib.ll_api_layerlaw_version().decode()
