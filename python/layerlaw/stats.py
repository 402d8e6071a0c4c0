"""Stats: streaming float64 probe statistics per hidden-state entry, with the
arithmetic of ``layerlaw fit`` (the same blocks, normalisation and solve), so
that ``Stats(...).add(F, Y).solve()`` equals ``layerlaw fit --features F.npy
--labels Y.npy`` bit for bit."""
import ctypes
import os
import threading

import numpy as np

from . import _lib
from .result import Result

NORMS = {"none": 0, "layernorm": 1, "rmsnorm": 2, "standardize": 3}
_DT = {"float32": 0, "float64": 1, "float16": 2, "bfloat16": 3}
_SIZE = {0: 4, 1: 8, 2: 2, 3: 2}


def _is_torch(x):
    return type(x).__module__.split(".")[0] == "torch"


class _View:
    """One feature array as (pointer, element strides, dtype code); keeps what it points into alive."""

    def __init__(self, x, what):
        self.keep = x
        if _is_torch(x):
            if x.device.type != "cpu":
                # a library without the CUDA backend: the rows come to host memory
                x = x.detach().to("cpu")
            x = x.detach()
            name = str(x.dtype).replace("torch.", "")
            if name not in _DT:
                raise ValueError(f"{what}: dtype {name} is not a float type (float16, bfloat16, float32, float64)")
            if x.ndim >= 1 and x.stride(-1) != 1 or any(s < 0 for s in x.stride()):
                x = x.contiguous()
            self.keep = x
            self.ptr = x.data_ptr()
            self.shape = tuple(x.shape)
            self.strides = tuple(int(s) for s in x.stride())
            self.dtype = _DT[name]
            return
        a = x if isinstance(x, np.ndarray) else np.asarray(x)
        name = a.dtype.name
        if name not in _DT:
            raise ValueError(f"{what}: dtype {name} is not a float type (float16, bfloat16, float32, float64)")
        es = a.dtype.itemsize
        if a.ndim == 0 or a.strides[-1] != es or any(s < 0 or s % es for s in a.strides):
            a = np.ascontiguousarray(a)
        self.keep = a
        self.ptr = a.ctypes.data
        self.shape = a.shape
        self.strides = tuple(s // es for s in a.strides)
        self.dtype = _DT[name]


def _labels(labels, n, vocab_size):
    if _is_torch(labels):
        labels = labels.detach().cpu().numpy()
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"labels: shape {y.shape}, expected ({n},) (one token id per example)")
    if y.dtype.kind not in "iu":
        raise ValueError(f"labels: dtype {y.dtype.name}, expected integer token ids")
    y = np.ascontiguousarray(y, dtype=np.int64)
    if n:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0:
            i = int(np.argmin(y))
            raise ValueError(f"labels: token id {lo} of example {i} is negative")
        if vocab_size is not None and hi >= vocab_size:
            i = int(np.argmax(y))
            raise ValueError(f"labels: token id {hi} of example {i} is outside the vocabulary (size {vocab_size})")
    return y


class Stats:
    """Streaming probe statistics for ``entries`` hidden-state entries of ``dim`` features.

    norm: none | layernorm | rmsnorm | standardize, applied (in float64, with
    ``eps``) to every entry but the last, or to all with ``norm_last``, as
    ``layerlaw fit --norm``.  target: "id" (the scalar token id, as the paper).
    vocab_size: when given, labels must lie in [0, vocab_size).
    batch_rows: examples per folded block (fit's --batch-rows, default 2048):
    the statistics equal fit's bit for bit however the examples are split
    across calls to add.  threads: 0 = every processor (fit's --threads).
    Memory: entries·dim² doubles, plus batch_rows·entries·dim doubles once
    added to.
    """

    def __init__(self, entries, dim, norm="none", eps=1e-5, norm_last=False, target="id", *, vocab_size=None,
                 batch_rows=2048, threads=0):
        if target != "id":
            raise ValueError(f"target: {target!r} is not supported by Stats (only 'id'; the one-hot target needs "
                             "every label before the first example: use `layerlaw fit --target onehot`)")
        if norm not in NORMS:
            raise ValueError(f"norm: unknown norm {norm!r} (none, layernorm, rmsnorm, standardize)")
        for nm, v, lo, hi in (("entries", entries, 1, 1 << 20), ("dim", dim, 1, 1 << 20),
                              ("batch_rows", batch_rows, 1, 1 << 24), ("threads", threads, 0, 4096)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
                raise ValueError(f"{nm}: {v!r} is not an integer in {lo}..{hi}")
        if not (isinstance(eps, (int, float, np.floating)) and 0 <= eps <= 1):
            raise ValueError(f"eps: {eps!r} is not a number in [0, 1]")
        need = 8.0 * entries * dim * dim
        try:
            avail = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            avail = None
        if avail and need > avail:
            raise MemoryError(f"Stats: {entries} entries x {dim}^2 float64 statistics need {need / 2**30:.1f} GiB, "
                              f"more than this machine's {avail / 2**30:.1f} GiB")
        self.entries, self.dim, self.norm, self.eps = int(entries), int(dim), norm, float(eps)
        self.norm_last, self.target, self.vocab_size = bool(norm_last), target, vocab_size
        self.batch_rows, self.threads = int(batch_rows), int(threads)
        self._h = None
        self._lock = threading.Lock()  # one call into the library at a time per object (the GIL is released)
        h = _lib.lib.ll_api_stats_new(self.entries, self.dim, NORMS[norm], self.eps, int(self.norm_last),
                                      self.batch_rows, self.threads)
        if not h:
            _lib.check(-1)
        self._h = h

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h and _lib is not None and _lib.lib is not None:
            _lib.lib.ll_api_stats_free(h)

    def __repr__(self):
        return (f"layerlaw.Stats(entries={self.entries}, dim={self.dim}, norm={self.norm!r}, eps={self.eps}, "
                f"norm_last={self.norm_last}, n_examples={self.n_examples})")

    @property
    def n_examples(self):
        return int(_lib.lib.ll_api_stats_count(self._h))

    def _views(self, hidden):
        E, d = self.entries, self.dim
        if isinstance(hidden, (list, tuple)):
            if len(hidden) != E:
                raise ValueError(f"hidden: {len(hidden)} arrays, expected {E} (one (N, {d}) array per entry)")
            views = [_View(h, f"hidden[{e}]") for e, h in enumerate(hidden)]
            n = None
            for e, v in enumerate(views):
                if len(v.shape) != 2 or v.shape[1] != d:
                    raise ValueError(f"hidden[{e}]: shape {v.shape}, expected (N, {d})")
                if n is None:
                    n = v.shape[0]
                elif v.shape[0] != n:
                    raise ValueError(f"hidden[{e}]: {v.shape[0]} examples, hidden[0] has {n}")
                if v.dtype != views[0].dtype:
                    raise ValueError(f"hidden[{e}]: dtype differs from hidden[0]'s")
            bases = [v.ptr for v in views]
            rstr = [v.strides[0] if n > 1 else d for v in views]
            return views, n, views[0].dtype, bases, rstr
        v = _View(hidden, "hidden")
        if len(v.shape) != 3 or v.shape[1] != E or v.shape[2] != d:
            raise ValueError(f"hidden: shape {v.shape}, expected (N, {E}, {d}) (examples, entries, features)")
        es = _SIZE[v.dtype]
        bases = [v.ptr + e * v.strides[1] * es for e in range(E)]
        return [v], v.shape[0], v.dtype, bases, [v.strides[0]] * E

    def _add_device(self, hidden, labels):
        """CUDA tensors, handed by pointer (DLPack device and data pointer) to the
        library's CUDA statistics.  Never run: no GPU where this was written."""
        import torch
        E, d = self.entries, self.dim
        if isinstance(hidden, (list, tuple)):
            if len(hidden) != E:
                raise ValueError(f"hidden: {len(hidden)} arrays, expected {E} (one (N, {d}) array per entry)")
            ents = list(hidden)
        else:
            if hidden.ndim != 3 or hidden.shape[1] != E or hidden.shape[2] != d:
                raise ValueError(f"hidden: shape {tuple(hidden.shape)}, expected (N, {E}, {d}) (examples, entries, features)")
            ents = [hidden[:, e] for e in range(E)]
        n = ents[0].shape[0]
        devs = set()
        rows = []
        for e, t in enumerate(ents):
            if not _is_torch(t) or t.device.type != "cuda":
                raise ValueError(f"hidden[{e}]: every entry on the same CUDA device, or none")
            if t.ndim != 2 or t.shape[1] != d or t.shape[0] != n:
                raise ValueError(f"hidden[{e}]: shape {tuple(t.shape)}, expected ({n}, {d})")
            name = str(t.dtype).replace("torch.", "")
            if name not in _DT:
                raise ValueError(f"hidden[{e}]: dtype {name} is not a float type (float16, bfloat16, float32, float64)")
            dev_type, dev_id = t.__dlpack_device__()
            devs.add(int(dev_id))
            rows.append(t.detach().to(torch.float32).contiguous())
        if len(devs) != 1:
            raise ValueError(f"hidden: entries on several CUDA devices {sorted(devs)}")
        y = _labels(labels, n, self.vocab_size)
        for e, t in enumerate(rows):
            ok = torch.isfinite(t).all(dim=1)
            if not bool(ok.all()):
                i = int((~ok).nonzero()[0, 0])
                raise ValueError(f"hidden: example {i}, entry {e}: non-finite value (NaN or Inf)")
        if n == 0:
            return self
        dev = devs.pop()
        torch.cuda.current_stream(rows[0].device).synchronize()  # the rows are written before the library reads
        base_arr = (ctypes.c_void_p * E)(*[t.data_ptr() for t in rows])
        with self._lock:
            rc = _lib.lib.ll_api_stats_add_device(self._h, dev, base_arr, y.ctypes.data, n)
        del rows
        if rc == -2:
            _lib.flush_warnings()
            raise ValueError(_lib.last_error())
        _lib.check(rc)
        return self

    def add(self, hidden, labels):
        """Adds N examples: ``hidden`` of shape (N, E, d), or a list of E arrays
        (N, d) (numpy arrays or torch tensors; float16, bfloat16, float32,
        float64; read in place when the last axis is contiguous; CUDA tensors
        go to the library's CUDA statistics when it has the CUDA backend, else
        are copied to the host), ``labels``
        (N,) integer token ids.  Nothing is added when a value is NaN or Inf
        (ValueError naming the example and entry).  Returns self."""
        first = hidden[0] if isinstance(hidden, (list, tuple)) and hidden else hidden
        if _is_torch(first) and first.device.type == "cuda" and _lib.cuda_compiled():
            return self._add_device(hidden, labels)
        views, n, dt, bases, rstr = self._views(hidden)
        y = _labels(labels, n, self.vocab_size)
        if n == 0:
            return self
        base_arr = (ctypes.c_void_p * self.entries)(*bases)
        str_arr = (ctypes.c_int64 * self.entries)(*rstr)
        with self._lock:
            rc = _lib.lib.ll_api_stats_add(self._h, dt, base_arr, str_arr, y.ctypes.data, n)
        del views
        if rc == -2:
            _lib.flush_warnings()
            raise ValueError("hidden: " + _lib.last_error())
        _lib.check(rc)
        return self

    def merge(self, other):
        """Adds the statistics of another shard (same entries, dim and norm): exact
        (Chan et al.'s pairwise update).  Returns self."""
        if not isinstance(other, Stats):
            raise TypeError("merge: expected a layerlaw.Stats")
        if other is self:
            raise ValueError("merge: a Stats cannot be merged into itself")
        first, second = sorted((self, other), key=id)  # one order of the locks: no deadlock
        with first._lock, second._lock:
            rc = _lib.lib.ll_api_stats_merge(self._h, other._h)
        _lib.check(rc)
        return self

    def __iadd__(self, other):
        return self.merge(other)

    def solve(self, fit_from=1, ridge=0.0):
        """Every entry's probe (minimum-norm least squares, or ridge) and the law
        over entries fit_from..E-1 (None with fewer than 2 of them).  The
        statistics are left as they are: more may be added and solved again."""
        if isinstance(fit_from, bool) or not isinstance(fit_from, (int, np.integer)) or fit_from < 0:
            raise ValueError(f"fit_from: {fit_from!r} is not a non-negative integer")
        if not (isinstance(ridge, (int, float, np.floating)) and 0 <= ridge <= 1e300):
            raise ValueError(f"ridge: {ridge!r} is not a number >= 0")
        out = np.zeros((self.entries, 5), dtype=np.float64)
        with self._lock:
            rc = _lib.lib.ll_api_stats_solve(self._h, float(ridge), out.ctypes.data)
        if rc == -2:
            _lib.flush_warnings()
            raise ValueError(_lib.last_error())
        _lib.check(rc)
        config = {"command": "python", "api": "Stats", "norm": self.norm, "eps": self.eps,
                  "norm_last": self.norm_last, "fit_from": int(fit_from), "ridge": float(ridge), "target": "id",
                  "measure": "pr", "shuffle_vocab_seed": None, "threads": self.threads,
                  "batch_rows": self.batch_rows, "backend": "cpu"}
        return Result.from_solve(out, int(fit_from), self.n_examples, self.dim, config)

    # pickling (e.g. to merge shards computed in other processes)
    def __getstate__(self):
        n = _lib.lib.ll_api_stats_pack_len(self._h)
        buf = np.empty(n, dtype=np.float64)
        with self._lock:
            rc = _lib.lib.ll_api_stats_pack(self._h, buf.ctypes.data)
        _lib.check(rc)
        keys = ("entries", "dim", "norm", "eps", "norm_last", "target", "vocab_size", "batch_rows", "threads")
        return {"settings": {k: getattr(self, k) for k in keys}, "stats": buf, "count": self.n_examples}

    def __setstate__(self, st):
        s = dict(st["settings"])
        self.__init__(s.pop("entries"), s.pop("dim"), s.pop("norm"), s.pop("eps"), s.pop("norm_last"),
                      s.pop("target"), **s)
        buf = np.ascontiguousarray(st["stats"], dtype=np.float64)
        _lib.check(_lib.lib.ll_api_stats_unpack(self._h, buf.ctypes.data, buf.size))
