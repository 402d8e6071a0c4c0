"""The command line in this process: layerlaw.run() and ``python -m layerlaw``."""
import ctypes
import os
import shutil
import signal
import sys
import tempfile

from . import _lib
from .result import load


def cli(args):
    """Runs ``layerlaw ARGS...`` in this process (the library's command line,
    as build/layerlaw) and returns its exit status.  Its output goes to this
    process's stdout/stderr (file descriptors 1 and 2)."""
    argv = [b"layerlaw"] + [os.fsencode(a) for a in args]
    arr = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
    sys.stdout.flush()
    sys.stderr.flush()
    rc = _lib.lib.ll_api_cli(len(argv), arr)
    _lib.flush_warnings()
    return rc


def _option(k, v):
    flag = "--" + k.replace("_", "-")
    if v is True:
        return [flag]
    if v is False or v is None:
        return []
    if isinstance(v, (list, tuple)):
        v = ",".join(str(x) for x in v)
    return [flag, os.fspath(v) if isinstance(v, os.PathLike) else str(v)]


def run(model=None, tokens=None, data=None, out=None, *, quiet=True, **options):
    """`layerlaw run` in this process: the C pipeline (load, tokenise,
    forward, capture, solve, law) with the command line's options, names with
    ``_`` for ``-`` (``batch_size=16``, ``norm="rmsnorm"``, ``norm_last=True``,
    ``backend="cpu"``, ``threads=2``, ...).  Results are written to ``out``
    (law.json, layers.csv, figure) or, when None, to a temporary folder that
    is removed.  ``quiet``: no table on stdout.  Returns the Result; a bad
    input raises layerlaw.InputError (a ValueError), a failure layerlaw.Error,
    each with the command line's one-line message."""
    if model is None:
        raise ValueError("run: model= is required (an HF checkpoint folder or a .gguf file)")
    if (tokens is None) == (data is None):
        raise ValueError("run: give exactly one of tokens= (token ids, one JSON array per line) and data= (text)")
    tmp = None
    if out is None:
        tmp = tempfile.mkdtemp(prefix="layerlaw-run-")
        out = os.path.join(tmp, "result")
    args = ["run"] + _option("model", model) + _option("tokens", tokens) + _option("data", data) + \
        _option("out", out) + (["--quiet"] if quiet else [])
    for k, v in options.items():
        args += _option(k, v)
    nofig = tmp is not None and "LAYERLAW_NO_FIGURE" not in os.environ
    if nofig:  # a temporary folder: no figure drawn there (Result.save draws it)
        os.environ["LAYERLAW_NO_FIGURE"] = "1"
    try:
        rc = cli(args)
        if rc != 0:
            msg = _lib.last_error()
            if rc == 2:
                raise _lib.InputError(msg)
            raise _lib.Error(msg, rc)
        return load(out)
    finally:
        if nofig:
            os.environ.pop("LAYERLAW_NO_FIGURE", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    """``python -m layerlaw ...`` / the ``layerlaw`` console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    # as the binary: Ctrl-C ends the process (the library removes its temporary files)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    return cli(args)


def console():
    """The `layerlaw` console script of the installed package."""
    sys.exit(main())
