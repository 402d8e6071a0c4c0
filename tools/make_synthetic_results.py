#!/usr/bin/env python3
"""Writes SYNTHETIC law.json files for the figure tests (training steps, model
scaling, GPU timing): tests/fixtures/results/synthetic/.

The numbers are made up (a geometric PR curve with seeded noise); they measure
nothing.  They exist because no trained checkpoints at several sizes and
training steps fit in the repository.  Every file says so in its "synthetic"
field and its config.  The layout is what a sweep over Pythia checkpoints
would write: <family>-<size>/step<N>/law.json, model.dir ending in step<N>.

Only the standard library is used; the output is deterministic.
"""
import json
import math
import os
import random
import sys

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "results", "synthetic")
NOTE = "SYNTHETIC: made-up numbers written by tools/make_synthetic_results.py for the figure tests; not a measurement"

# name, parameters, layers, hidden size
SIZES = [("synth-pythia-14m", 14_067_712, 6, 128), ("synth-pythia-70m", 70_426_624, 6, 512),
         ("synth-pythia-160m", 162_322_944, 12, 768), ("synth-pythia-410m", 405_334_016, 24, 1024)]
STEPS = [1, 64, 512, 4000, 16000, 64000, 143000]


def law_fit(pr, first=1):
    y = [math.log10(p) for p in pr[first:]]
    m = len(y)
    xm = (m - 1) / 2
    ym = sum(y) / m
    sxx = sum((i - xm) ** 2 for i in range(m))
    sxy = sum((i - xm) * (y[i] - ym) for i in range(m))
    syy = sum((v - ym) ** 2 for v in y)
    slope = sxy / sxx
    r = sxy / math.sqrt(sxx * syy)
    return {"first_entry": first, "n_points": m, "slope": slope, "intercept": ym - slope * xm, "r2": r * r,
            "pearson_r": r, "decay_ratio": 10 ** slope, "overall_ratio": pr[-1] / pr[first]}


def one(name, n_params, n_layers, d, step, rng, gpu=False):
    E = n_layers + 1
    # decay ratio: falls with training (1.0 at the start) and with size
    size_gain = 0.02 * math.log10(n_params / 1e7)
    progress = math.log10(step + 1) / math.log10(143001)
    rho = 1.0 - (0.05 + size_gain) * progress * 6 / n_layers
    pr0 = 0.9
    pr = [pr0 * rho ** e * (1 + rng.gauss(0, 0.004 + 0.01 * (1 - progress))) for e in range(E)]
    pr = [min(p, 0.999) for p in pr]
    tokens = 200_000
    tps = 3e12 / n_params
    fwd = [tokens / tps / E * (0.2 if e == 0 else 1.0) * (1 + rng.gauss(0, 0.05)) for e in range(E)]
    cap = [0.15 * f + 0.001 for f in fwd]
    folder = os.path.join(name, "step%d" % step)
    doc = {
        "layerlaw_version": "0.1.0",
        "synthetic": NOTE,
        "layers": [{"index": e, "pr": pr[e], "log10_pr": math.log10(pr[e]), "rank": d} for e in range(E)],
        "fit": law_fit(pr),
        "n_examples": tokens - 1000,
        "n_entries": E,
        "dim": d,
        "config": {"command": "run", "model": "synthetic/" + folder, "tokens": "synthetic-tokens.jsonl",
                   "position": "next", "norm": "initialized", "norm_applied": "layernorm", "fit_from": 1,
                   "target": "id", "shuffle_vocab_seed": None, "backend": "cuda" if gpu else "cpu",
                   "synthetic": NOTE},
        "model": {"dir": "synthetic/" + folder, "model_type": "gpt_neox", "n_layers": n_layers, "hidden_size": d,
                  "n_entries": E, "n_params": n_params},
        "throughput": {"tokens": tokens, "tokens_per_s": tps, "seconds": sum(fwd) + sum(cap),
                       "per_entry_forward_s": fwd, "per_entry_capture_s": cap, "solve_s": 0.01 * d / 128},
    }
    if gpu:
        doc["gpu_timing"] = {"batches": 50, "per_entry": [
            {"index": e, "layer_ms_per_batch": 1e3 * fwd[e] / 50, "capture_ms_per_batch": 1e3 * cap[e] / 50}
            for e in range(E)]}
    path = os.path.join(OUT, folder, "law.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def main():
    rng = random.Random(20240826)
    for name, n, L, d in SIZES:
        steps = STEPS if name == "synth-pythia-70m" else [143000]
        for s in steps:
            one(name, n, L, d, s, rng, gpu=(name == "synth-pythia-410m"))
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
