#!/usr/bin/env python3
"""Benchmark: `layerlaw run` vs the authors' pipeline (HF transformers on CPU with
output_hidden_states=True, fresh LayerNorm, sklearn LinearRegression per entry)
on a GPT-2-small-shaped random model, same tokens, same threads.

    python bench/bench_forward.py [--tokens 20000] [--threads 2] [--batch 8] [--repeat 2] [--bin build/layerlaw]

Writes results/bench_forward/result.json and prints a table: forward tokens/s,
end-to-end seconds, peak RSS for both, and the ratios.  The model (random
weights, seed 0, 124M parameters, safetensors) and the token file are made on
the first run under results/bench_forward/ (not committed).
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "results", "bench_forward")

HF_SCRIPT = r'''
import json, resource, sys, time
import numpy as np, torch
from transformers import AutoModel
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error
model_dir, tok_path, threads, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
seqs = [json.loads(l) for l in open(tok_path) if l.strip()]
t0 = time.time()
model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
t_load = time.time() - t0
feats, labels = [], []
tf0 = time.time()
ntok = 0
with torch.no_grad():
    for i in range(0, len(seqs), batch):
        b = seqs[i:i + batch]
        T = max(len(s) for s in b)
        ids = torch.zeros((len(b), T), dtype=torch.long)
        mask = torch.zeros((len(b), T), dtype=torch.long)
        for r, s in enumerate(b):
            ids[r, :len(s)] = torch.tensor(s)
            mask[r, :len(s)] = 1
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        hs = torch.stack(out.hidden_states, 1)  # (B, E, T, d)
        for r, s in enumerate(b):
            ntok += len(s)
            # the authors: feature at j, label id at j+1 (last position skipped)
            feats.append(hs[r, :, :len(s) - 1, :].permute(1, 0, 2).numpy().copy())
            labels.extend(s[1:])
t_fwd = time.time() - tf0
F = np.concatenate(feats, 0)  # (N, E, d)
y = np.asarray(labels, dtype=np.float32)
N, E, d = F.shape
tp0 = time.time()
prs = []
ln = torch.nn.LayerNorm(d, eps=model.config.layer_norm_epsilon)
for e in range(E):
    X = torch.from_numpy(np.ascontiguousarray(F[:, e, :]))
    if e < E - 1:
        with torch.no_grad():
            X = ln(X)
    X = X.numpy()
    m = LinearRegression().fit(X, y)
    prs.append(float(mean_squared_error(y, m.predict(X)) / np.var(y)))
t_probe = time.time() - tp0
print(json.dumps({"tokens": ntok, "examples": int(N), "load_s": t_load, "forward_s": t_fwd,
                  "forward_tokens_per_s": ntok / t_fwd, "probe_s": t_probe, "pr": prs,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
'''


def make_inputs(n_tokens, seq_len, seed=0):
    import numpy as np
    os.makedirs(OUT, exist_ok=True)
    mdir = os.path.join(OUT, "gpt2-small-random")
    if not os.path.exists(os.path.join(mdir, "model.safetensors")):
        import torch
        from transformers import GPT2Config, GPT2Model
        torch.manual_seed(seed)
        cfg = GPT2Config(n_embd=768, n_layer=12, n_head=12, n_positions=1024, vocab_size=50257)
        GPT2Model(cfg).save_pretrained(mdir)
    tok = os.path.join(OUT, f"tokens-{n_tokens}.jsonl")
    if not os.path.exists(tok):
        rng = np.random.default_rng(seed)
        # Zipf-like ids so that the probe has something to fit
        with open(tok, "w") as f:
            left = n_tokens
            while left > 0:
                L = min(seq_len, left)
                ids = np.minimum(rng.zipf(1.3, L) - 1, 50256)
                f.write(json.dumps([int(x) for x in ids]) + "\n")
                left -= L
    return mdir, tok


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time -v: (wall seconds, peak RSS KiB, stdout)."""
    t0 = time.time()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    wall = time.time() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    rss = 0
    for line in p.stderr.splitlines():
        if "Maximum resident set size" in line:
            rss = int(line.split(":")[1])
    return wall, rss, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=20000)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "layerlaw"))
    ap.add_argument("--skip-hf", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="alternate the two pipelines R times, report the best of each")
    a = ap.parse_args()
    mdir, tok = make_inputs(a.tokens, a.seq_len)
    res = {"threads": a.threads, "batch": a.batch, "tokens_requested": a.tokens, "model": mdir,
           "machine_load_before": os.getloadavg()}
    out = os.path.join(OUT, "layerlaw_out")
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    runs_l, runs_h = [], []
    for rep in range(a.repeat):
        # alternate the two pipelines so that a change in machine load hits both
        wall, rss, _ = timed([a.bin, "run", "--model", mdir, "--tokens", tok, "--out", out, "--threads", str(a.threads),
                              "--batch-size", str(a.batch), "--max-length", str(a.seq_len), "--quiet"])
        law = json.load(open(os.path.join(out, "law.json")))
        tp = law["throughput"]
        runs_l.append({"wall_s": wall, "maxrss_kb": rss, "forward_tokens_per_s": tp["forward_tokens_per_s"],
                       "tokens_per_s_with_capture": tp["tokens_per_s"], "forward_s": tp["forward_s"],
                       "capture_s": tp["capture_s"], "solve_s": tp["solve_s"], "load_s": tp["load_s"],
                       "tokens": tp["tokens"], "pr": [l["pr"] for l in law["layers"]],
                       "loadavg": os.getloadavg()[0]})
        if not a.skip_hf:
            wall, rss, so = timed([sys.executable, "-c", HF_SCRIPT, mdir, tok, str(a.threads), str(a.batch)], env=env)
            hf = json.loads(so.strip().splitlines()[-1])
            hf["wall_s"] = wall
            hf["maxrss_kb"] = max(rss, hf["maxrss_kb"])
            hf["loadavg"] = os.getloadavg()[0]
            runs_h.append(hf)
    best = lambda runs: min(runs, key=lambda r: r["wall_s"])
    res["runs_layerlaw"], res["runs_hf"] = runs_l, runs_h
    res["layerlaw"] = best(runs_l)
    if runs_h:
        L, H = res["layerlaw"], best(runs_h)
        res["hf"] = H
        res["ratios"] = {
            "forward_tokens_per_s (layerlaw/hf)": max(r["forward_tokens_per_s"] for r in runs_l) / max(r["forward_tokens_per_s"] for r in runs_h),
            "forward+capture tokens_per_s (layerlaw) / hf forward": max(r["tokens_per_s_with_capture"] for r in runs_l) / max(r["forward_tokens_per_s"] for r in runs_h),
            "end_to_end speed-up (hf wall / layerlaw wall)": H["wall_s"] / L["wall_s"],
            "peak RSS (hf / layerlaw)": H["maxrss_kb"] / L["maxrss_kb"],
            "max |PR diff| (exact vs sklearn)": max(abs(x - y) for x, y in zip(L["pr"], H["pr"])),
        }
    res["machine_load_after"] = os.getloadavg()
    with open(os.path.join(OUT, "result.json"), "w") as f:
        json.dump(res, f, indent=1)
    L = res["layerlaw"]
    print(f"threads {a.threads}, {L['tokens']} tokens, GPT-2-small shape (random weights), best of {a.repeat}, "
          f"load avg {res['machine_load_before'][0]:.1f} before, {res['machine_load_after'][0]:.1f} after")
    print(f"{'':28s}{'layerlaw':>14s}{'HF+sklearn':>14s}")
    H = res.get("hf")
    def row(name, lv, hv, fmt):
        print(f"{name:28s}{fmt.format(lv):>14s}{(fmt.format(hv) if hv is not None else '-'):>14s}")
    row("forward tokens/s", L["forward_tokens_per_s"], H and H["forward_tokens_per_s"], "{:.0f}")
    row("end-to-end wall s", L["wall_s"], H and H["wall_s"], "{:.1f}")
    row("peak RSS MiB", L["maxrss_kb"] / 1024, H and H["maxrss_kb"] / 1024, "{:.0f}")
    if H:
        for k, v in res["ratios"].items():
            print(f"  {k}: {v:.3g}")


if __name__ == "__main__":
    main()
