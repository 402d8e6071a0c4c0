#!/usr/bin/env python3
"""Golden fixtures for the paper's other measures (tests/fixtures/measures/),
made with the reference libraries: numpy/scipy (the authors' separation
fuzziness, written here from its definition in LLM-ELL
feature_quality_assessment.py:get_separation_fuzziness: centre the
features, per class Sb += n_c mu_c mu_c^T and Sw += the class's centred
scatter, both / N, D = trace(Sw @ scipy.linalg.pinv(Sb))) and scikit-learn
(held-out PR: an explicit K-fold loop of LinearRegression with the same
folds as layerlaw's documented hash).

Each case <name> writes <name>.F.npy (N, E, d), <name>.Y.npy (N,),
optionally <name>.G.npy (N,) group (sequence) ids, and <name>.json with the
options to pass and the expected values.

Fuzziness cases: expected "fuzz" (float64 features, scipy pinv, default
cutoff), "fuzz_authors32" (the same loop on float32 features, the precision
the authors ran at) and "law" (scipy linregress / pearsonr of log10 D).
Held-out cases: "pr_heldout" (sum of fold RSS / total TSS), "pr_fold",
"pr_train" (in-sample PR of each leave-one-fold-out fit), "pr_insample",
"law", "law_heldout", "jackknife" (slope and Pearson r: leave-one-out values,
se = sqrt((K-1)/K sum (v - mean)^2), t = scipy.stats.t.ppf(0.975, K-1),
interval estimate +- t se).

The LayerNorm'd cases give features in the hyperplane sum(x) = 0; layerlaw
deflates that direction exactly, so the sklearn oracle is fitted on the
features expressed in an orthonormal basis of that hyperplane (the same
model, without the null direction).
"""
import json
import os
import sys

import numpy as np
import scipy
import scipy.linalg
import scipy.stats
import sklearn
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fit_fixtures import law, norm64, splitmix64, synth, MASK  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "measures")
MODELS = os.path.join(HERE, "..", "tests", "fixtures", "models")
VERSIONS = {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__}


def fold_of(group, seed, K):
    st = seed ^ ((int(group) * 0xD1B54A32D192ED03) & MASK)
    _, z = splitmix64(st)
    return z % K


def fuzziness(X, labels):
    """tr(Sw pinv(Sb)), Sw/Sb within/between-class covariances of the centred features, / N."""
    X = X - X.mean(axis=0)
    d = X.shape[1]
    Sb = np.zeros((d, d))
    Sw = np.zeros((d, d))
    for c in np.unique(labels):
        Xc = X[labels == c]
        mu = Xc.mean(axis=0)
        Sb += np.outer(mu, mu) * len(Xc)
        Z = Xc - mu
        Sw += Z.T @ Z
    Sb /= len(labels)
    Sw /= len(labels)
    return float(np.trace(Sw @ scipy.linalg.pinv(Sb)))


def pool_labels(labels, max_classes):
    """layerlaw's class budget: the max_classes-1 most frequent ids (ties: smaller id) keep their class."""
    ids, counts = np.unique(labels, return_counts=True)
    if max_classes <= 0 or max_classes >= len(ids):
        return labels.copy()
    order = sorted(range(len(ids)), key=lambda k: (-counts[k], ids[k]))
    keep = set(int(ids[k]) for k in order[:max_classes - 1])
    return np.array([int(l) if int(l) in keep else -1 for l in labels], dtype=np.int64)


def features(F, e, norm, eps, norm_last):
    E = F.shape[1]
    apply = norm != "none" and (e < E - 1 or norm_last)
    kind = norm if apply else "none"
    return norm64(F[:, e, :].astype(np.float64), kind, eps), kind in ("layernorm", "standardize")


def save_case(name, F, Y, G, args, exp, data=None):
    """data: the case whose .F/.Y/.G.npy files hold the same arrays (not written twice)."""
    os.makedirs(OUT, exist_ok=True)
    if data is None:
        np.save(os.path.join(OUT, name + ".F.npy"), F)
        np.save(os.path.join(OUT, name + ".Y.npy"), Y.astype(np.int64))
        if G is not None:
            np.save(os.path.join(OUT, name + ".G.npy"), G.astype(np.int64))
    exp.update({"name": name, "data": data or name, "groups": G is not None, "args": args, "N": int(F.shape[0]), "E": int(F.shape[1]), "d": int(F.shape[2]),
                "versions": VERSIONS})
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(exp, f, indent=1)


def fuzz_case(name, F, Y, args, norm="layernorm", eps=1e-5, norm_last=False, max_classes=0, fit_from=1, data=None,
              in_hyperplane=False):
    """in_hyperplane: the features already satisfy sum(x) = 0 up to float32 rounding (layerlaw detects it
    and drops that direction); the oracle then works in an orthonormal basis of the hyperplane."""
    F = F.astype(np.float32)
    E = F.shape[1]
    lab = pool_labels(Y, max_classes)
    fz, fz32, fz_unpooled = [], [], []
    for e in range(E):
        X, _ = features(F, e, norm, eps, norm_last)
        if in_hyperplane:
            X = X @ onb_hyperplane(X.shape[1])
        fz.append(fuzziness(X, lab))
        fz32.append(fuzziness(X.astype(np.float32), lab))
        if max_classes:
            fz_unpooled.append(fuzziness(X, Y))
    exp = {"fuzz": fz, "fuzz_authors32": fz32, "law": law(fz, fit_from),
           "n_classes": int(len(np.unique(Y))), "n_classes_used": int(len(np.unique(lab)))}
    if max_classes:
        exp["fuzz_unpooled"] = fz_unpooled
        exp["pooled_examples"] = int((lab == -1).sum())
    save_case(name, F, Y, None, args, exp, data)
    rel32 = max(abs(a - b) / abs(b) for a, b in zip(fz32, fz))
    msg = f"{name}: D={np.round(fz, 5).tolist()} max rel float32-float64 {rel32:.2e}"
    if max_classes:
        msg += f" pooled vs exact rel {[round(abs(a - b) / b, 4) for a, b in zip(fz, fz_unpooled)]}"
    print(msg)


def norm32_ln(x):
    """A float32 LayerNorm (weight 1, bias 0, eps 1e-5), as torch would apply it."""
    x = x.astype(np.float32)
    mu = x.mean(-1, keepdims=True, dtype=np.float32)
    var = ((x - mu) ** 2).mean(-1, keepdims=True, dtype=np.float32)
    return ((x - mu) / np.sqrt(var + np.float32(1e-5))).astype(np.float32)


def onb_hyperplane(d):
    """Orthonormal basis (d x d-1) of {x : sum(x) = 0}."""
    return scipy.linalg.null_space(np.ones((1, d)))


def heldout_case(name, F, Y, G, K, seed, args, norm="layernorm", eps=1e-5, norm_last=False, fit_from=1,
                 data=None):
    F = F.astype(np.float32)
    N, E, d = F.shape
    groups = G if G is not None else np.arange(N)
    fold = np.array([fold_of(g, seed, K) for g in groups])
    assert all((fold == k).sum() > 0 for k in range(K)), "empty fold"
    y = Y.astype(np.float64)
    tss = ((y - y.mean()) ** 2).sum()
    pr_ho, pr_fold, pr_train, pr_in = [], [], [], []
    for e in range(E):
        X, ones_null = features(F, e, norm, eps, norm_last)
        if ones_null:
            X = X @ onb_hyperplane(d)
        reg = LinearRegression().fit(X, y)
        pr_in.append(mean_squared_error(y, reg.predict(X)) / np.var(y))
        rss_sum, pf, pt = 0.0, [], []
        for k in range(K):
            tr, te = fold != k, fold == k
            reg = LinearRegression().fit(X[tr], y[tr])
            rss = float(((y[te] - reg.predict(X[te])) ** 2).sum())
            rss_sum += rss
            pf.append(rss / float(((y[te] - y[te].mean()) ** 2).sum()))
            pt.append(mean_squared_error(y[tr], reg.predict(X[tr])) / np.var(y[tr]))
        pr_ho.append(rss_sum / tss)
        pr_fold.append(pf)
        pr_train.append(pt)
    full = law(pr_in, fit_from)
    jk = {}
    t = float(scipy.stats.t.ppf(0.975, K - 1))
    for key in ("slope", "pearson_r"):
        vals = np.array([law([pr_train[e][k] for e in range(E)], fit_from)[key] for k in range(K)])
        se = float(np.sqrt((K - 1) / K * ((vals - vals.mean()) ** 2).sum()))
        jk[key] = {"estimate": full[key], "se": se, "t": t, "lo": full[key] - t * se, "hi": full[key] + t * se,
                   "leave_one_out": vals.tolist()}
    exp = {"folds": K, "seed": seed, "fold_examples": [int((fold == k).sum()) for k in range(K)],
           "pr_heldout": pr_ho, "pr_fold": pr_fold, "pr_train": pr_train, "pr_insample": pr_in,
           "law": full, "law_heldout": law(pr_ho, fit_from), "jackknife": jk}
    save_case(name, F, Y, G, args, exp, data)
    print(f"{name}: PR in-sample {np.round(pr_in, 5).tolist()} held-out {np.round(pr_ho, 5).tolist()} "
          f"slope {full['slope']:.4f} jackknife se {jk['slope']['se']:.4f}")


def model_examples(model):
    hidden = np.load(os.path.join(MODELS, model, "hidden.npy"))
    seqs = [json.loads(l) for l in open(os.path.join(MODELS, model, "tokens.jsonl")) if l.strip()]
    rows, labels, groups, off = [], [], [], 0
    for si, s in enumerate(seqs):
        for j in range(len(s) - 1):
            rows.append(off + j)
            labels.append(s[j + 1])
            groups.append(si)
        off += len(s)
    assert off == hidden.shape[0]
    return hidden[np.array(rows)], np.array(labels, dtype=np.int64), np.array(groups, dtype=np.int64)


def main():
    rng = np.random.default_rng(20240823)
    # fuzziness: few classes (Sb rank K-1 < d) and many (Sb full rank)
    F, Y = synth(rng, 900, 5, 16, 12)
    fuzz_case("fz_raw", F, Y, ["--norm", "none"], norm="none")
    fuzz_case("fz_ln", F, Y, [], data="fz_raw")
    F, Y = synth(rng, 900, 5, 16, 60)
    fuzz_case("fz_many", F, Y, ["--norm", "rmsnorm", "--norm-last"], norm="rmsnorm", norm_last=True)
    fuzz_case("fz_pool", F, Y, ["--norm", "rmsnorm", "--norm-last", "--max-classes", "40"], norm="rmsnorm",
              norm_last=True, max_classes=40, data="fz_many")
    Fp = np.stack([norm32_ln(F[:, e, :]) for e in range(F.shape[1])], axis=1)
    fuzz_case("fz_prenormed", Fp, Y, ["--norm", "none"], norm="none", in_hyperplane=True)
    Fm, Ym, Gm = model_examples("gpt2")
    fuzz_case("fz_gpt2", Fm, Ym, ["--norm-last"], norm_last=True)
    # held-out PR
    F, Y = synth(rng, 1200, 5, 12, 50)
    G = np.repeat(np.arange(60), 20)
    heldout_case("ho_raw", F, Y, G, 5, 11, ["--norm", "none", "--folds", "5", "--fold-seed", "11"], norm="none")
    heldout_case("ho_ln", F, Y, G, 4, 3, ["--folds", "4", "--fold-seed", "3"], data="ho_raw")
    heldout_case("ho_examples", F, Y, None, 3, 0, ["--norm", "none", "--folds", "3"], norm="none", data="ho_raw")
    seed = next(s for s in range(100) if len({fold_of(g, s, 3) for g in np.unique(Gm)}) == 3)
    heldout_case("ho_gpt2", Fm, Ym, Gm, 3, seed, ["--norm-last", "--folds", "3", "--fold-seed", str(seed)],
                 norm_last=True)


if __name__ == "__main__":
    main()
