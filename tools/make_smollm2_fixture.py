#!/usr/bin/env python3
"""Golden values for SmolLM2-135M-Instruct (GGUF Q4_1, scripts/fetch-smollm2.sh)
from HF transformers and the authors' pipeline -> tests/fixtures/smollm2/.

  texts.json     the first 24 paragraphs of Pride and Prejudice (data/corpora)
                 after the title page, and the ids of each cut to 64 tokens.
                 Tokenizer oracle: the GGUF vocabulary and merges in PyPI
                 `tokenizers` with the original SmolLM tokenizer's pipeline
                 (BPE, pre-tokenizer Sequence[Digits(individual_digits=True),
                 ByteLevel(add_prefix_space=False)], no BOS/EOS added) --
                 NOT transformers' GGUF->tokenizer conversion, which loses the
                 digit splitting.
  tokens.jsonl   those ids, one sequence a line (layerlaw run --tokens)
  hidden.npy     float32 (16, 31, 576): hidden_states of the first 16 tokens
                 of sequence 0, every entry, from transformers'
                 AutoModel.from_pretrained(cache, gguf_file=...) in float32
                 (transformers dequantises with gguf.quants and undoes the
                 llama q/k permutation itself: an oracle for both).
  expected.json  PR of every entry over all sequences, the authors' pipeline:
                 examples = position j -> id at j+1, entries 0..L-1 through a
                 fresh RMSNorm (weight 1, eps = rms_norm_eps), the last entry
                 raw; sklearn LinearRegression, PR = MSE / var(y); and the
                 law fit over entries 1..L (log10 PR against 0..n-1).

Usage: tools/make_smollm2_fixture.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import json
import os
import sys

import numpy as np
import torch
from scipy import stats
from sklearn.linear_model import LinearRegression

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "smollm2")
CORPUS = os.path.join(ROOT, "data", "corpora", "gutenberg-1342-pride-and-prejudice.txt.gz")
N_PAR, MAX_LEN, N_HIDDEN = 24, 64, 16


def paragraphs(path, n):
    import gzip
    txt = gzip.open(path, "rt", encoding="utf-8").read().replace("\r\n", "\n")
    pars = [" ".join(p.split()) for p in txt.split("\n\n")]
    pars = [p for p in pars if len(p) >= 200]  # skip headings and the title page
    return pars[:n]


def oracle_tokenizer(gguf_path):
    import gguf
    from tokenizers import Tokenizer, AddedToken, models, pre_tokenizers
    r = gguf.GGUFReader(gguf_path)

    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    toks, merges = strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges")
    tt = r.fields["tokenizer.ggml.token_type"]
    types = [int(tt.parts[i][0]) for i in tt.data]
    assert r.fields["tokenizer.ggml.pre"].contents() == "smollm"
    tk = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(toks)}, merges=[tuple(m.split(" ")) for m in merges]))
    tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(toks, types) if ty == 3])
    return tk


def rmsnorm(x, eps):
    x = torch.from_numpy(x)
    var = x.pow(2).mean(-1, keepdim=True)
    return (x * torch.rsqrt(var + eps)).numpy()


def main():
    gpath = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("LAYERLAW_CACHE", os.path.expanduser("~/.cache/layerlaw")), "SmolLM2-135M-Instruct.Q4_1.gguf")
    os.makedirs(OUT, exist_ok=True)
    tk = oracle_tokenizer(gpath)
    texts = paragraphs(CORPUS, N_PAR)
    ids = [tk.encode(t).ids[:MAX_LEN] for t in texts]
    json.dump({"max_length": MAX_LEN, "texts": texts, "ids": ids}, open(os.path.join(OUT, "texts.json"), "w"),
              ensure_ascii=False, indent=0)
    with open(os.path.join(OUT, "tokens.jsonl"), "w") as f:
        for s in ids:
            f.write(json.dumps(s) + "\n")

    from transformers import AutoModel
    torch.manual_seed(0)
    model = AutoModel.from_pretrained(os.path.dirname(gpath), gguf_file=os.path.basename(gpath),
                                      torch_dtype=torch.float32).eval()
    eps = model.config.rms_norm_eps
    feats, labels = None, []
    with torch.no_grad():
        for k, s in enumerate(ids):
            hs = model(torch.tensor([s]), output_hidden_states=True).hidden_states
            h = np.stack([x[0].numpy() for x in hs], 0)  # (E, T, d)
            if k == 0:
                np.save(os.path.join(OUT, "hidden.npy"), np.ascontiguousarray(h[:, :N_HIDDEN].transpose(1, 0, 2)))
            if feats is None:
                feats = [[] for _ in range(h.shape[0])]
            for e in range(h.shape[0]):
                feats[e].append(h[e, :-1])
            labels.extend(s[1:])
    E = len(feats)
    y = np.asarray(labels, dtype=np.float32)
    prs = []
    for e in range(E):
        X = np.concatenate(feats[e]).astype(np.float32)
        if e < E - 1:
            X = rmsnorm(X, eps).astype(np.float32)
        pred = LinearRegression().fit(X, y).predict(X)
        prs.append(float(np.mean((y - pred) ** 2) / np.var(y)))
    lp = np.log10(prs[1:])
    x = np.arange(len(lp))
    fit = stats.linregress(x, lp)
    exp = {"n_examples": int(len(y)), "n_entries": E, "dim": int(feats[0][0].shape[1]), "rms_norm_eps": eps,
           "pr": prs, "slope": float(fit.slope), "intercept": float(fit.intercept),
           "pearson_r": float(stats.pearsonr(x, lp)[0]), "hidden_tokens": N_HIDDEN}
    json.dump(exp, open(os.path.join(OUT, "expected.json"), "w"), indent=1)
    print(json.dumps({k: v for k, v in exp.items() if k != "pr"}), [round(p, 6) for p in prs])


if __name__ == "__main__":
    main()
