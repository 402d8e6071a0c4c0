#!/usr/bin/env python3
"""The authors' pipeline as they run it (HornHehhf/LLM-ELL, see REFERENCE.md),
timed on the GPU machine, for the speed-up ratio against layerlaw's CUDA path:
PyTorch/transformers forward with output_hidden_states in float32, hidden
states to the host, a fresh nn.LayerNorm on every entry but the last, then
sklearn LinearRegression per entry (PR = MSE / var(y)).

Random weights at real shapes (GPT-2-XL: 48 layers, d=1600, 25 heads), random
token ids, --tokens tokens in sequences of --seq-len.  Prints one line per
phase and a summary line `baseline,<model>,<tokens>,<seconds>,<tokens/s>`.

    python3 bench/gpu_baseline_authors.py --tokens 8192 --seq-len 512
"""
import argparse
import sys
import time

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gpt2-xl", choices=["gpt2-xl", "gpt2"])
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--entries", type=int, default=0, help="probe only the first N entries (0: all)")
    a = ap.parse_args()
    from transformers import GPT2Config, GPT2Model
    from sklearn.linear_model import LinearRegression

    shapes = {"gpt2-xl": dict(n_embd=1600, n_layer=48, n_head=25), "gpt2": dict(n_embd=768, n_layer=12, n_head=12)}
    cfg = GPT2Config(vocab_size=50257, n_positions=1024, **shapes[a.model])
    torch.manual_seed(0)
    t0 = time.perf_counter()
    with torch.device("cuda"):
        model = GPT2Model(cfg).float().eval()
    torch.cuda.synchronize()
    print(f"init {time.perf_counter() - t0:.2f} s ({sum(p.numel() for p in model.parameters()) / 1e9:.2f} B params)", flush=True)
    nseq = max(1, a.tokens // a.seq_len)
    ids = torch.randint(0, cfg.vocab_size, (nseq, a.seq_len))
    feats = None
    labels = []
    t_fwd = t_host = 0.0
    E = cfg.n_layer + 1
    with torch.no_grad():
        # warm-up (cuBLAS handles, kernels)
        model(input_ids=ids[:1].cuda(), output_hidden_states=True)
        torch.cuda.synchronize()
        for s0 in range(0, nseq, a.batch):
            x = ids[s0:s0 + a.batch].cuda()
            t1 = time.perf_counter()
            out = model(input_ids=x, output_hidden_states=True)
            torch.cuda.synchronize()
            t2 = time.perf_counter()
            hs = [h[:, :-1, :].reshape(-1, cfg.n_embd).cpu().numpy() for h in out.hidden_states]  # to the host
            t3 = time.perf_counter()
            t_fwd += t2 - t1
            t_host += t3 - t2
            if feats is None:
                feats = [[] for _ in range(E)]
            for e in range(E):
                feats[e].append(hs[e])
            labels.append(ids[s0:s0 + a.batch, 1:].reshape(-1).numpy())
    y = np.concatenate(labels).astype(np.float64)
    print(f"forward {t_fwd:.2f} s, to host {t_host:.2f} s, {len(y)} examples", flush=True)
    t4 = time.perf_counter()
    ln = torch.nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
    pr = []
    n_e = E if a.entries <= 0 else min(E, a.entries)
    for e in range(n_e):
        X = np.concatenate(feats[e])
        if e < E - 1:
            with torch.no_grad():
                X = ln(torch.from_numpy(X)).numpy()
        reg = LinearRegression().fit(X, y)
        pred = reg.predict(X)
        pr.append(float(np.mean((y - pred) ** 2) / np.var(y)))
    t_sk = time.perf_counter() - t4
    if n_e < E:
        t_sk_all = t_sk * E / n_e
        print(f"sklearn {t_sk:.2f} s for {n_e} entries -> {t_sk_all:.2f} s for all {E} (linear estimate)", flush=True)
        t_sk = t_sk_all
    else:
        print(f"sklearn {t_sk:.2f} s for {E} entries", flush=True)
    total = t_fwd + t_host + t_sk
    print(f"PR first/last probed: {pr[0]:.6f} / {pr[-1]:.6f}")
    print(f"baseline,{a.model},{len(y)},{total:.3f},{len(y) / total:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
