#!/usr/bin/env python3
"""Benchmark: layerlaw.Stats.add + solve on float32 numpy features against the
authors' way (scikit-learn's LinearRegression, one fit per layer, PR =
RSS/TSS of its predictions) and against `layerlaw fit` on the same features
saved as .npy.  Same features, same machine, same run; times are the median of
--reps repetitions; the PRs of the three are compared.  A benchmark, not a test.

    python3 bench/python_stats.py                       # N=32768, E=13, d=256
    python3 bench/python_stats.py --n 65536 --e 25 --d 512 --threads 2
Needs: numpy, scikit-learn, the package (python/ + build/liblayerlaw.so, or
pip install .), build/layerlaw (LAYERLAW_BIN)."""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
import layerlaw  # noqa: E402


def timed(fn, reps):
    ts, out = [], None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=32768)
    ap.add_argument("--e", type=int, default=13)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--threads", type=int, default=0, help="layerlaw threads (0: all cores)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--norm", default="none", help="applied by layerlaw; sklearn gets the same normalised features")
    a = ap.parse_args()
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    F = rng.standard_normal((a.n, a.e, a.d), dtype=np.float32)
    for e in range(1, a.e):
        F[:, e] += 0.7 * F[:, e - 1]
    Y = (np.abs(F[:, -1, :4].sum(1)) * 100).astype(np.int64) % 5000
    print(f"features: N={a.n} E={a.e} d={a.d} float32 ({F.nbytes / 2**20:.0f} MiB), cores {os.cpu_count()}, "
          f"threads {a.threads or 'all'}")

    def ours():
        return layerlaw.Stats(a.e, a.d, norm="none", threads=a.threads).add(F, Y).solve()

    def sk():
        prs = []
        y = Y.astype(np.float32)
        for e in range(a.e):
            X = F[:, e]
            pred = LinearRegression().fit(X, y).predict(X)
            prs.append(float(((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()))
        return np.array(prs)

    t_ours, r = timed(ours, a.reps)
    t_sk, pr_sk = timed(sk, a.reps)
    rows = [("layerlaw.Stats add+solve", t_ours), ("sklearn LinearRegression per layer", t_sk)]
    binp = pathlib.Path(os.environ.get("LAYERLAW_BIN", ROOT / "build" / "layerlaw"))
    if binp.exists():
        with tempfile.TemporaryDirectory() as td:
            np.save(f"{td}/F.npy", F)
            np.save(f"{td}/Y.npy", Y)
            cmd = [str(binp), "fit", "--features", f"{td}/F.npy", "--labels", f"{td}/Y.npy", "--out", f"{td}/o",
                   "--norm", "none", "--quiet", "--threads", str(a.threads)]
            t_fit, _ = timed(lambda: subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL), a.reps)
            fit = layerlaw.load(f"{td}/o")
        rows.append(("layerlaw fit (binary, .npy from page cache)", t_fit))
        print(f"Stats vs fit: PRs bitwise equal: {np.array_equal(r.pr, fit.pr)}")
    print(f"max |PR(layerlaw) - PR(sklearn, float32)|: {np.max(np.abs(r.pr - pr_sk)):.2e}")
    for name, t in rows:
        print(f"  {name:45s} {t:8.3f} s   {a.n * a.e / t / 1e6:7.2f} M example-entries/s")
    print(f"speed-up of Stats over sklearn: {t_sk / t_ours:.1f}x")
    if len(rows) == 3:
        print(f"Stats time / fit time: {t_ours / rows[2][1]:.2f}")


if __name__ == "__main__":
    main()
