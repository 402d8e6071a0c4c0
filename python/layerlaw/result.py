"""Result: the per-entry probes and the law, from a solve, a run or a law.json."""
import ctypes
import json
import math
import os
import pathlib
import tempfile

import numpy as np

from . import _lib

LAW_KEYS = ("slope", "intercept", "r2", "pearson_r", "spearman_rho", "decay_ratio", "overall_ratio")


def _ranks(v):
    """Average ranks (ties share the mean of their positions), as scipy.stats.rankdata."""
    order = np.argsort(v, kind="mergesort")
    r = np.empty(len(v), dtype=np.float64)
    sv = v[order]
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and sv[j + 1] == sv[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return r


def spearman(x, y):
    """Spearman's rank correlation (Pearson r of the average ranks); NaN when a side is constant."""
    rx, ry = _ranks(np.asarray(x, dtype=np.float64)), _ranks(np.asarray(y, dtype=np.float64))
    rx -= rx.mean()
    ry -= ry.mean()
    den = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / den if den > 0 else float("nan")


def _law_dict(raw, pr):
    """raw: [first, n_points, slope, intercept, r2, pearson_r, decay_ratio, overall_ratio]"""
    first = int(raw[0])
    xs = np.arange(len(pr) - first, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = spearman(xs, np.log10(pr[first:]))
    f = [float(v) for v in raw]
    return {"slope": f[2], "intercept": f[3], "r2": f[4], "pearson_r": f[5], "spearman_rho": rho,
            "decay_ratio": f[6], "overall_ratio": f[7], "first_entry": first, "n_points": int(raw[1])}


def _num(v):
    return float("nan") if v is None else float(v)


class Result:
    """One measurement: ``pr`` (numpy, one per entry), ``law`` (dict: slope,
    intercept, r2, pearson_r, spearman_rho, decay_ratio, overall_ratio,
    first_entry, n_points; None without a law fit), ``entries`` (how many),
    ``n_examples``, ``dim``, ``rss``, ``tss``, ``rank``, ``config`` (how it
    was made, as law.json's "config"), ``data`` (the whole law.json object
    when loaded or run).  spearman_rho is Spearman's rank correlation of
    log10 PR with the entry over the fitted entries (not in law.json: computed
    here)."""

    def __init__(self, pr, rss, tss, n, rank, law, n_examples, dim, config, extra=None, data=None, files=None):
        self.pr = np.asarray(pr, dtype=np.float64)
        self.rss = np.asarray(rss, dtype=np.float64)
        self.tss = np.asarray(tss, dtype=np.float64)
        self.n = np.asarray(n, dtype=np.float64)
        self.rank = np.asarray(rank, dtype=np.int64)
        self.law = law
        self.entries = len(self.pr)
        self.n_examples = int(n_examples)
        self.dim = int(dim)
        self.config = config or {}
        self.extra = extra or {}
        self.data = data
        self._files = files  # {name: bytes} of a loaded result, written back as they were

    # ---- construction ----
    @classmethod
    def from_solve(cls, out, fit_from, n_examples, dim, config, extra=None):
        E = out.shape[0]
        law = None
        if E - fit_from >= 2:
            raw = np.zeros(8, dtype=np.float64)
            _lib.check(_lib.lib.ll_api_law_fit(np.ascontiguousarray(out[:, 0]).ctypes.data, E, fit_from,
                                                raw.ctypes.data))
            law = _law_dict(raw, out[:, 0])
        return cls(out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy(), out[:, 3].copy(), out[:, 4].astype(np.int64),
                   law, n_examples, dim, config, extra)

    @classmethod
    def from_json(cls, data, files=None):
        layers = data["layers"]
        keys = [k for k in layers[0] if k != "index"] if layers else ["pr"]
        vk = "pr" if "pr" in layers[0] else keys[0]
        rk = "rss" if "rss" in layers[0] else keys[2]
        tk = "tss" if "tss" in layers[0] else keys[3]
        pr = np.array([_num(l[vk]) for l in layers])
        fit = data.get("fit")
        law = None
        if fit:
            raw = [fit["first_entry"], fit["n_points"]] + [_num(fit.get(k)) for k in
                                                            ("slope", "intercept", "r2", "pearson_r", "decay_ratio",
                                                             "overall_ratio")]
            law = _law_dict(raw, pr)
        n = data.get("n_examples", 0)
        return cls(pr, [_num(l[rk]) for l in layers], [_num(l[tk]) for l in layers], [n] * len(layers),
                   [l.get("rank", 0) for l in layers], law, n, data.get("dim", 0), data.get("config"),
                   data=data, files=files)

    # ---- views ----
    @property
    def log10_pr(self):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(self.pr)

    @property
    def fit_from(self):
        return self.law["first_entry"] if self.law else int(self.config.get("fit_from", 1))

    def __repr__(self):
        s = f"layerlaw.Result({self.entries} entries, {self.n_examples} examples, dim {self.dim}"
        if self.law:
            s += f", slope {self.law['slope']:.6g}, pearson_r {self.law['pearson_r']:.5f}"
        return s + ")"

    def table(self):
        """The command line's table, as text."""
        lines = [f"{self.n_examples} examples, {self.entries} entries, dim {self.dim}",
                 "entry         PR     log10 PR  rank"]
        for e in range(self.entries):
            note = "" if self.law and e >= self.law["first_entry"] else "  (not in fit)"
            lines.append(f"{e:5d}  {self.pr[e]:10.6f}  {self.log10_pr[e]:10.5f}  {self.rank[e]:4d}{note}")
        if self.law:
            L = self.law
            lines.append(f"law (entries {L['first_entry']}..{self.entries - 1}): slope {L['slope']:.6g}  intercept "
                         f"{L['intercept']:.6g}  R^2 {L['r2']:.5f}  Pearson r {L['pearson_r']:.5f}  Spearman rho "
                         f"{L['spearman_rho']:.5f}  decay ratio {L['decay_ratio']:.5f}  overall ratio "
                         f"{L['overall_ratio']:.5f}")
        return "\n".join(lines)

    def to_pandas(self):
        """One row per entry: pr, log10_pr, rss, tss, rank, in_fit (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError("Result.to_pandas needs pandas (pip install pandas)") from e
        first = self.law["first_entry"] if self.law else self.entries
        df = pd.DataFrame({"pr": self.pr, "log10_pr": self.log10_pr, "rss": self.rss, "tss": self.tss,
                           "rank": self.rank, "in_fit": np.arange(self.entries) >= first})
        df.index.name = "entry"
        return df

    # ---- files ----
    def save(self, dir, figure=True):
        """law.json and layers.csv in ``dir`` as the command line writes them
        (together or not at all), and the figure law.png / law.svg beside them
        (when gnuplot is installed).  Returns the folder as a pathlib.Path."""
        d = os.fsencode(os.fspath(dir))
        if self._files:
            names = list(self._files)
            blobs = [self._files[k] for k in names]
            c_names = (ctypes.c_char_p * len(names))(*[n.encode() for n in names])
            c_data = (ctypes.c_char_p * len(names))(*blobs)
            c_lens = (ctypes.c_size_t * len(names))(*[len(b) for b in blobs])
            _lib.check(_lib.lib.ll_api_write_files(d, len(names), c_names, c_data, c_lens))
            if figure and self.law:
                rc = _lib.lib.ll_api_figure(d)
                _lib.flush_warnings()
                if rc == 1:
                    import warnings
                    warnings.warn("layerlaw: no figure drawn (gnuplot is not installed)", RuntimeWarning, stacklevel=2)
        else:
            res = np.ascontiguousarray(np.stack([self.pr, self.rss, self.tss, self.n, self.rank.astype(np.float64)],
                                                axis=1))
            cfg = json.dumps(self.config).encode()
            extra = json.dumps(self.extra).encode() if self.extra else None
            fit_from = self.law["first_entry"] if self.law else -1
            _lib.check(_lib.lib.ll_api_write(d, res.ctypes.data, self.entries, fit_from, self.n_examples, self.dim,
                                             cfg, extra, int(bool(figure))))
        return pathlib.Path(os.fsdecode(d))

    def plot(self, ax=None, path=None):
        """The command line's figure: log10 PR per entry, the entries in the fit
        and the fitted line, its slope, decay ratio, Pearson r and R².  With
        matplotlib installed: drawn on ``ax`` (a new figure's when None) and the
        axes returned.  Without: the command line's own figure (gnuplot) is
        written (law.png/law.svg in ``path``, a temporary folder when None)
        and the PNG's path returned."""
        try:
            import matplotlib
            if ax is None:
                import matplotlib.pyplot as plt
                _, ax = plt.subplots(figsize=(7.6, 5.0))
        except ImportError:
            out = pathlib.Path(path) if path else pathlib.Path(tempfile.mkdtemp(prefix="layerlaw-plot-"))
            self.save(out, figure=True)
            png = out / "law.png"
            if not png.exists():
                raise _lib.Error("no figure: neither matplotlib nor gnuplot is installed")
            return png
        del matplotlib
        e = np.arange(self.entries)
        first = self.law["first_entry"] if self.law else self.entries
        fit = e >= first
        ax.semilogy(e[fit], self.pr[fit], "o-", color="#1f77b4", label="PR (entries in the fit)")
        if (~fit).any():
            ax.semilogy(e[~fit], self.pr[~fit], "o", mfc="none", color="#7f7f7f", label="PR (entries not in the fit)")
        if self.law:
            L = self.law
            xs = e[fit]
            ax.semilogy(xs, 10 ** (L["intercept"] + L["slope"] * (xs - first)), "--", color="#d62728",
                        label=f"fit: slope {L['slope']:.4g}, ρ = {L['decay_ratio']:.4f}, r = {L['pearson_r']:.4f}, "
                              f"R² = {L['r2']:.4f}")
        cfg = self.config
        model = cfg.get("model") or cfg.get("features") or ""
        ax.set_title(f"{os.path.basename(str(model).rstrip('/')) or 'layerlaw'}: position {cfg.get('position', '-')}, "
                     f"norm {cfg.get('norm', '?')}, {self.n_examples} examples", fontsize=10)
        ax.set_xlabel("entry (hidden-state index: 0 = embeddings)")
        ax.set_ylabel("prediction residual PR (log scale)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        return ax


def _exact_from_csv(r, blob):
    """law.json's numbers are printed by cJSON (15 significant digits when they
    read back within rounding); layers.csv's with %.17g: exact, preferred."""
    import csv
    import io
    rows = list(csv.reader(io.StringIO(blob.decode("utf-8", "replace"))))
    if len(rows) != r.entries + 1:
        return
    head = rows[0]
    cols = {k: [float(x[i]) if x[i] not in ("", "nan", "-nan") else float("nan") for x in rows[1:]]
            for i, k in enumerate(head[:5])}
    keys = head[1:5]  # value, log10 value, rss, tss
    if head[0] != "index" or cols["index"] != list(range(r.entries)):
        return
    r.pr = np.array(cols[keys[0]])
    r.rss = np.array(cols[keys[2]])
    r.tss = np.array(cols[keys[3]])
    if r.law:
        with np.errstate(divide="ignore", invalid="ignore"):
            r.law["spearman_rho"] = spearman(np.arange(r.entries - r.law["first_entry"]),
                                             np.log10(r.pr[r.law["first_entry"]:]))


def load(path):
    """A Result from a law.json (or a folder holding one); a folder without
    law.json gives the list of every law.json below it (sorted by path)."""
    p = pathlib.Path(path)
    if p.is_dir() and not (p / "law.json").is_file():
        return [load(q) for q in sorted(p.rglob("law.json"))]
    if p.is_dir():
        p = p / "law.json"
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise _lib.InputError(f"{p}: {e.strerror or e}") from None
    try:
        data = json.loads(raw)
        files = {"law.json": raw}
        csv = p.with_name("layers.csv")
        if csv.is_file():
            files["layers.csv"] = csv.read_bytes()
        r = Result.from_json(data, files)
        if "layers.csv" in files:
            _exact_from_csv(r, files["layers.csv"])
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise _lib.InputError(f"{p}: not a layerlaw law.json ({type(e).__name__}: {e})") from None
    r.path = p
    return r
