#!/usr/bin/env python3
"""Benchmark: `layerlaw fit` against the authors' method (sklearn
LinearRegression per entry on float32 features, a fresh float32 LayerNorm on
every entry but the last, PR = MSE / var) on the same synthetic features, in
one run, same thread count.  Reports wall time, the ratio, peak RSS of each
(each runs in its own process) and the largest PR difference.

    python3 bench/bench_fit.py [--n 50000 --e 13 --d 768 --threads 2]
Writes results/bench_fit/summary.json.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

AUTHORS = r"""
import sys, time, json, resource
import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error
F = np.load(sys.argv[1])            # the authors hold every feature in memory
y = np.load(sys.argv[2]).astype(np.float32)
N, E, d = F.shape
t0 = time.time()
prs = []
for e in range(E):
    X = np.ascontiguousarray(F[:, e, :], dtype=np.float32)
    if e < E - 1:                    # fresh LayerNorm(weight 1, bias 0, eps 1e-5), float32
        mu = X.mean(-1, keepdims=True)
        var = ((X - mu) ** 2).mean(-1, keepdims=True)
        X = (X - mu) / np.sqrt(var + np.float32(1e-5))
    m = LinearRegression().fit(X, y)
    prs.append(float(mean_squared_error(y, m.predict(X)) / np.var(y)))
print(json.dumps({"seconds": time.time() - t0, "pr": prs,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def make_features(path_f, path_y, n, e, d, seed=0):
    if os.path.exists(path_f) and os.path.exists(path_y):
        F = np.load(path_f, mmap_mode="r")
        if F.shape == (n, e, d):
            return
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 50000, size=n)
    ys = ((y - y.mean()) / y.std()).astype(np.float32)
    F = np.lib.format.open_memmap(path_f + ".tmp", mode="w+", dtype=np.float32, shape=(n, e, d))
    W = rng.normal(size=(e, d)).astype(np.float32)
    off = rng.normal(size=(e, d)).astype(np.float32) * 2
    chunk = 5000
    for i in range(0, n, chunk):
        m = min(chunk, n - i)
        base = rng.normal(size=(m, d)).astype(np.float32)
        for k in range(e):
            F[i:i + m, k, :] = base * 0.7 + rng.normal(size=(m, d)).astype(np.float32) + \
                (0.05 * 1.3 ** k) * ys[i:i + m, None] * W[k] + off[k]
    F.flush()
    del F
    os.replace(path_f + ".tmp", path_f)
    np.save(path_y, y.astype(np.int64))


def run_timed(cmd, env=None):
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.time() - t0
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return dt, p.stdout, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--e", type=int, default=13)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "bench_fit"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    fF, fY = os.path.join(a.out, "F.npy"), os.path.join(a.out, "Y.npy")
    make_features(fF, fY, a.n, a.e, a.d)
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads),
               MKL_NUM_THREADS=str(a.threads), LAYERLAW_QUIET="1")
    fbytes = os.path.getsize(fF)
    # layerlaw (own process; RUSAGE_CHILDREN max is per-child max so far: run it first)
    t_ll, _, rss_ll = run_timed([os.path.join(ROOT, "build", "layerlaw"), "fit", "--features", fF, "--labels", fY,
                                 "--out", os.path.join(a.out, "layerlaw"), "--norm", "layernorm", "--quiet",
                                 "--threads", str(a.threads)], env)
    law = json.load(open(os.path.join(a.out, "layerlaw", "law.json")))
    pr_ll = [l["pr"] for l in law["layers"]]
    t_sk_total, out, rss_sk = run_timed([sys.executable, "-c", AUTHORS, fF, fY], env)
    sk = json.loads(out)
    rel = max(abs(x - y) / y for x, y in zip(pr_ll, sk["pr"]))
    stats_bytes = a.e * a.d * a.d * 8
    summary = {"N": a.n, "E": a.e, "d": a.d, "threads": a.threads, "feature_file_bytes": fbytes,
               "stats_bytes": stats_bytes,
               "layerlaw": {"wall_s": t_ll, "peak_rss_bytes": rss_ll * 1024},
               "sklearn_authors": {"wall_s": t_sk_total, "fit_s": sk["seconds"], "peak_rss_bytes": sk["maxrss_kb"] * 1024},
               "speedup_wall": t_sk_total / t_ll, "speedup_vs_fit_only": sk["seconds"] / t_ll,
               "max_rel_pr_diff": rel, "pr_layerlaw": pr_ll, "pr_sklearn": sk["pr"]}
    json.dump(summary, open(os.path.join(a.out, "summary.json"), "w"), indent=1)
    print(f"N={a.n} E={a.e} d={a.d} threads={a.threads}  feature file {fbytes/2**30:.2f} GiB, E*d^2 stats {stats_bytes/2**20:.0f} MiB")
    print(f"layerlaw fit : {t_ll:8.2f} s   peak RSS {rss_ll/2**20:.2f} GiB")
    print(f"sklearn (authors): {t_sk_total:8.2f} s (fits alone {sk['seconds']:.2f} s)   peak RSS {sk['maxrss_kb']/2**20:.2f} GiB")
    print(f"speed-up {t_sk_total/t_ll:.1f}x (vs fits alone {sk['seconds']/t_ll:.1f}x); max relative PR difference {rel:.2e}")


if __name__ == "__main__":
    main()
