#!/usr/bin/env python3
"""Benchmark: RWKV-4 and Mamba forward with hidden-state capture, `layerlaw run`
vs HF transformers on CPU (its slow path: the per-token Python loops of
rwkv_linear_attention_cpu / mamba_selective_scan, as the authors ran it), on
GPT-2-small-shaped random models, same tokens, same threads, in one run.

    python bench/bench_ssm.py [--tokens 4096] [--seq-len 256] [--threads 2] [--batch 8]
                              [--bin build/layerlaw] [--families rwkv,mamba]

Models (random weights, seed 0) and tokens are made on the first run under
results/bench_ssm/ (not committed): RWKV-4 169M-shaped (hidden 768, 12 layers,
vocab 50277) and Mamba 130M-shaped (hidden 768, 24 layers, state 16, vocab
50280).  Prints forward tokens/s for both (best of --repeat alternating runs), the ratio, and layerlaw's
end-to-end time (forward + probe statistics + solve); writes
results/bench_ssm/result.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "results", "bench_ssm")

HF_SCRIPT = r'''
import json, sys, time
import torch
from transformers import AutoModel
model_dir, tok_path, threads, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
seqs = [json.loads(l) for l in open(tok_path) if l.strip()]
model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
ntok = 0
t0 = time.time()
with torch.no_grad():
    for i in range(0, len(seqs), batch):
        b = seqs[i:i + batch]
        T = max(len(s) for s in b)
        ids = torch.zeros((len(b), T), dtype=torch.long)
        for r, s in enumerate(b):
            ids[r, :len(s)] = torch.tensor(s)
        out = model(input_ids=ids, output_hidden_states=True, use_cache=False)
        hs = [h.numpy() for h in out.hidden_states]
        ntok += sum(len(s) for s in b)
dt = time.time() - t0
print(json.dumps({"tokens": ntok, "forward_s": dt, "forward_tokens_per_s": ntok / dt}))
'''


def make_model(family):
    import torch
    from transformers import MambaConfig, MambaForCausalLM, RwkvConfig, RwkvForCausalLM
    d = os.path.join(OUT, family)
    if os.path.exists(os.path.join(d, "model.safetensors")):
        return d
    torch.manual_seed(0)
    if family == "rwkv":
        cfg = RwkvConfig(vocab_size=50277, context_length=1024, hidden_size=768, num_hidden_layers=12,
                         attention_hidden_size=768, intermediate_size=3072, rescale_every=6)
        m = RwkvForCausalLM(cfg)
    else:
        cfg = MambaConfig(vocab_size=50280, hidden_size=768, num_hidden_layers=24, state_size=16, expand=2,
                          conv_kernel=4, tie_word_embeddings=True)
        m = MambaForCausalLM(cfg)
    with torch.no_grad():  # every sublayer non-zero
        for p in m.parameters():
            if p.abs().max() == 0:
                p.normal_(0, 0.02)
    m.save_pretrained(d, safe_serialization=True)
    return d


def make_tokens(n_tokens, seq_len):
    import numpy as np
    path = os.path.join(OUT, f"tokens-{n_tokens}-{seq_len}.jsonl")
    if not os.path.exists(path):
        rng = np.random.default_rng(0)
        with open(path, "w") as f:
            left = n_tokens
            while left > 0:
                n = min(seq_len, left)
                f.write(json.dumps(rng.integers(0, 50277, n).tolist()) + "\n")
                left -= n
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=4096)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "layerlaw"))
    ap.add_argument("--families", default="rwkv,mamba")
    ap.add_argument("--repeat", type=int, default=2,
                    help="alternate layerlaw and HF this many times, keep the best of each (shared machines)")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    toks = make_tokens(a.tokens, a.seq_len)
    result = {"tokens": a.tokens, "seq_len": a.seq_len, "threads": a.threads, "batch": a.batch, "families": {}}
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS="1")
    for fam in a.families.split(","):
        mdir = make_model(fam)
        out = os.path.join(OUT, f"run-{fam}")
        thr, hf, ll_wall = None, None, None
        for _ in range(a.repeat):
            t0 = time.time()
            subprocess.run([a.bin, "run", "--model", mdir, "--tokens", toks, "--out", out, "--threads",
                            str(a.threads), "--batch-size", str(a.batch), "--quiet"], check=True, env=env)
            wall = time.time() - t0
            t = json.load(open(os.path.join(out, "law.json")))["throughput"]
            if thr is None or t["forward_tokens_per_s"] > thr["forward_tokens_per_s"]:
                thr, ll_wall = t, wall
            h = json.loads(subprocess.run([sys.executable, "-c", HF_SCRIPT, mdir, toks, str(a.threads), str(a.batch)],
                                          check=True, capture_output=True, text=True,
                                          env=env).stdout.strip().splitlines()[-1])
            if hf is None or h["forward_tokens_per_s"] > hf["forward_tokens_per_s"]:
                hf = h
        r = {"layerlaw_forward_tokens_per_s": thr["forward_tokens_per_s"], "layerlaw_end_to_end_s": ll_wall,
             "layerlaw_forward_s": thr["forward_s"], "hf_forward_tokens_per_s": hf["forward_tokens_per_s"],
             "hf_forward_s": hf["forward_s"],
             "speedup_forward": thr["forward_tokens_per_s"] / hf["forward_tokens_per_s"]}
        result["families"][fam] = r
        print(f"{fam:6s} forward tokens/s: layerlaw {r['layerlaw_forward_tokens_per_s']:9.1f}   "
              f"HF {r['hf_forward_tokens_per_s']:9.1f}   speedup {r['speedup_forward']:.2f}x   "
              f"(layerlaw end to end incl. probe: {ll_wall:.1f} s; HF forward alone: {hf['forward_s']:.1f} s)")
    with open(os.path.join(OUT, "result.json"), "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
