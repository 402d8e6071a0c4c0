#!/usr/bin/env python3
"""Golden fixtures for `layerlaw fit` (tests/fixtures/fit/), made with the
reference libraries: scikit-learn (the authors' `Regression_measure`, i.e.
LinearRegression on float32 features, PR = MSE / var), numpy float64
pseudo-inverse (the exact value), scipy (the law: linear regression of log10 PR
and Pearson r, as the authors' `analyze_terminal_features`).

Each case <name> writes <name>.F.npy (N, E, d), <name>.Y.npy (N,) and
<name>.json with the options to pass and the expected values:
  pr_exact    float64 minimum-norm OLS with intercept on float64-normalised
              features; for LayerNorm'd/standardised features the ones
              direction (Σx = 0 hyperplane) is dropped, as pinv would
  pr_sklearn  sklearn LinearRegression on float32 features normalised in
              float32 (the authors' pipeline)
  law_exact   law over entries fit_from..E-1 of pr_exact

Cases: well (LayerNorm'd, well-conditioned), prenormed (features already
LayerNorm'd in float32, fit with --norm none: rank-deficient Gram), nclose
(N close to d), f16 (float16 input, RMSNorm), onehot (multi-output one-hot
target vs sklearn multi-output LinearRegression, PR = ΣRSS/ΣTSS), ridge
(sklearn Ridge), shuffle (the shuffled-vocabulary control with layerlaw's
documented splitmix64 Fisher-Yates permutation), standardize.
"""
import json
import os
import sys

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import mean_squared_error

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "fit")
MASK = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def shuffle_vocab(labels, seed):
    ids = np.unique(labels)
    perm = ids.copy()
    st = seed
    for i in range(len(perm) - 1, 0, -1):
        st, r = splitmix64(st)
        j = r % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm[np.searchsorted(ids, labels)]


def norm64(x, kind, eps):
    x = x.astype(np.float64)
    if kind == "layernorm":
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps)
    if kind == "rmsnorm":
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)
    if kind == "standardize":
        mu = x.mean(-1, keepdims=True)
        sd = x.std(-1, keepdims=True)
        return (x - mu) / sd
    return x


def norm32(x, kind, eps):
    """float32 normalisation as torch.nn.LayerNorm / an RMSNorm would do it."""
    x = x.astype(np.float32)
    if kind == "layernorm":
        mu = x.mean(-1, keepdims=True, dtype=np.float32)
        var = ((x - mu) ** 2).mean(-1, keepdims=True, dtype=np.float32)
        return ((x - mu) / np.sqrt(var + np.float32(eps))).astype(np.float32)
    if kind == "rmsnorm":
        return (x / np.sqrt((x * x).mean(-1, keepdims=True) + np.float32(eps))).astype(np.float32)
    if kind == "standardize":
        return ((x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True)).astype(np.float32)
    return x


def exact_pr(X, Y, ones_null, ridge=0.0):
    """X (N,d) float64, Y (N,) or (N,K). Minimum-norm OLS with intercept."""
    Xc = X - X.mean(0)
    Y2 = Y.reshape(len(Y), -1).astype(np.float64)
    Yc = Y2 - Y2.mean(0)
    if ones_null:
        d = X.shape[1]
        u = np.ones((d, 1)) / np.sqrt(d)
        Xc = Xc - (Xc @ u) @ u.T
    if ridge > 0:
        G = Xc.T @ Xc
        beta = np.linalg.solve(G + ridge * np.eye(G.shape[0]), Xc.T @ Yc)
    else:
        U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
        keep = s > s[0] * 1e-6 if ones_null else s > s[0] * 1e-10
        beta = Vt[keep].T @ ((U[:, keep].T @ Yc) / s[keep, None])
    R = Yc - Xc @ beta
    return float((R ** 2).sum() / (Yc ** 2).sum())


def sklearn_pr(X32, Y, ridge=0.0):
    model = Ridge(alpha=ridge) if ridge > 0 else LinearRegression()
    Yf = Y.astype(np.float32)
    model.fit(X32, Yf)
    pred = model.predict(X32)
    if Y.ndim == 1:
        return float(mean_squared_error(Yf, pred) / np.var(Yf))
    rss = ((Yf - pred) ** 2).sum()
    tss = ((Yf - Yf.mean(0)) ** 2).sum()
    return float(rss / tss)


def law(pr, first):
    y = np.log10(np.asarray(pr[first:], dtype=np.float64))
    x = np.arange(len(y), dtype=np.float64)
    lr = scipy.stats.linregress(x, y)
    r = scipy.stats.pearsonr(x, y)[0]
    return {"first_entry": first, "slope": lr.slope, "intercept": lr.intercept, "r2": lr.rvalue ** 2,
            "pearson_r": float(r), "decay_ratio": 10 ** lr.slope, "overall_ratio": pr[-1] / pr[first]}


def synth(rng, N, E, d, vocab, strength0=0.3, growth=1.45):
    """Features whose linear information about y grows with depth."""
    y = rng.integers(0, vocab, size=N)
    ys = (y - y.mean()) / y.std()
    F = np.empty((N, E, d), dtype=np.float64)
    base = rng.normal(size=(N, d))
    for e in range(E):
        w = rng.normal(size=d)
        mix = rng.normal(size=(d, d)) / np.sqrt(d)
        noise = base @ mix + 0.5 * rng.normal(size=(N, d))
        a = strength0 * growth ** e
        F[:, e, :] = noise + a * np.outer(ys + 0.3 * ys ** 2, w) + rng.normal(size=d) * 2.0
    return F, y


def write_case(name, F, Y, opts, norm, eps, norm_last=False, ridge=0.0, onehot=False, shuffle=None,
               dtype=np.float32, fit_from=1):
    os.makedirs(OUT, exist_ok=True)
    Fs = F.astype(dtype)
    np.save(os.path.join(OUT, name + ".F.npy"), Fs)
    np.save(os.path.join(OUT, name + ".Y.npy"), Y.astype(np.int64))
    N, E, d = Fs.shape
    Fin = Fs.astype(np.float64)
    labels = Y.astype(np.int64)
    if shuffle is not None:
        labels = shuffle_vocab(labels, shuffle)
    if onehot:
        ids = np.unique(labels)
        T = (labels[:, None] == ids[None, :]).astype(np.float64)
    else:
        T = labels.astype(np.float64)
    pr_exact, pr_sk = [], []
    for e in range(E):
        apply = norm != "none" and (e < E - 1 or norm_last)
        kind = norm if apply else "none"
        X64 = norm64(Fin[:, e, :], kind, eps)
        ones_null = kind in ("layernorm", "standardize")
        if not ones_null:  # detect features already in the Σx = 0 hyperplane
            s = X64 - X64.mean(0)
            q = ((s.sum(1)) ** 2).sum() / d
            ones_null = q <= 1e-10 * (s ** 2).sum() / d
        pr_exact.append(exact_pr(X64, T, ones_null, ridge))
        X32 = norm32(Fs[:, e, :].astype(np.float32), kind, eps)
        pr_sk.append(sklearn_pr(X32, T if not onehot else T.astype(np.float32), ridge))
    exp = {"name": name, "args": opts, "N": N, "E": E, "d": d, "dtype": np.dtype(dtype).name,
           "pr_exact": pr_exact, "pr_sklearn": pr_sk,
           "law_exact": law(pr_exact, fit_from) if E - fit_from >= 2 else None,
           "law_sklearn": law(pr_sk, fit_from) if E - fit_from >= 2 else None,
           "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__}}
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(exp, f, indent=1)
    rel = max(abs(a - b) / b for a, b in zip(pr_exact, pr_sk))
    print(f"{name}: N={N} E={E} d={d} pr_exact={np.round(pr_exact, 6).tolist()} max rel sklearn-exact {rel:.2e}")


def main():
    rng = np.random.default_rng(20240826)
    F, y = synth(rng, 1500, 6, 20, 5000)
    write_case("well", F, y, ["--norm", "layernorm", "--eps", "1e-5"], "layernorm", 1e-5)
    write_case("standardize", F[:600], y[:600], ["--norm", "standardize"], "standardize", 0.0)
    # already LayerNorm'd in float32 (weight 1, bias 0): rank-deficient Gram
    G, y2 = synth(rng, 1200, 5, 24, 3000)
    Gn = norm32(G.astype(np.float32), "layernorm", 1e-5)
    write_case("prenormed", Gn, y2, ["--norm", "none"], "none", 0.0)
    # N close to d
    H, y3 = synth(rng, 46, 4, 40, 500, strength0=0.5)
    write_case("nclose", H, y3, ["--norm", "none"], "none", 0.0)
    # float16 input, RMSNorm on every entry (--norm-last)
    K, y4 = synth(rng, 800, 5, 16, 20000)
    write_case("f16", K, y4, ["--norm", "rmsnorm", "--eps", "1e-6", "--norm-last"], "rmsnorm", 1e-6,
               norm_last=True, dtype=np.float16)
    # one-hot target, 15 classes
    Lf, y5 = synth(rng, 600, 4, 12, 15, strength0=0.8)
    write_case("onehot", Lf, y5 + 100, ["--norm", "layernorm", "--target", "onehot"], "layernorm", 1e-5,
               onehot=True)
    # ridge
    write_case("ridge", F[:700, :4], y[:700], ["--norm", "rmsnorm", "--eps", "1e-5", "--ridge", "3.5"],
               "rmsnorm", 1e-5, ridge=3.5)
    # shuffled vocabulary control
    write_case("shuffle", F[:900], y[:900], ["--norm", "layernorm", "--shuffle-vocab", "7"], "layernorm", 1e-5,
               shuffle=7)
    # law from entry 2
    write_case("fitfrom", F[:500], y[:500], ["--norm", "layernorm", "--fit-from", "2"], "layernorm", 1e-5,
               fit_from=2)


if __name__ == "__main__":
    sys.exit(main())
