#!/usr/bin/env python3
"""Build the golden model fixtures under tests/fixtures/models/ with HF transformers.

Every fixture is a tiny randomly initialised model (fixed seeds) whose every
sublayer is non-trivial: after HF's own init, ALL parameters are re-drawn
(matrices ~ N(0, s/sqrt(fan_in)), biases ~ N(0, 0.1), norm weights ~ N(1, 0.2),
norm biases ~ N(0, 0.1); RWKV time_mix ~ U(0.1, 0.9), time_decay/time_first ~
N(0, 0.5); Mamba A_log = log(1..N) + N(0, 0.2), D ~ N(1, 0.2), dt bias =
softplus^-1(dt) with dt log-uniform in [1e-3, 1e-1], conv weights/biases random),
so nothing is exactly 0 or 1.

Directory tests/fixtures/models/<name>/ holds
  config.json (+ generation_config.json)   as save_pretrained writes them
  model.safetensors (or shards + model.safetensors.index.json, or pytorch_model.bin)
  tokens.jsonl    one JSON array of token ids per line (9 sequences, lengths
                  1, 2, 40, 9, 37, 40, 23, 31, 32 -> 215 tokens, 206 examples)
  hidden.npy      float32 (P, E, d): P = all real positions, sequence by sequence,
                  E = len(hidden_states), d = hidden size; base model (AutoModel
                  loaded from the directory, float32, eval), ONE right-padded batch
                  (pad id 0) with attention_mask; checked against per-sequence
                  unpadded runs (the stored values are the padded-batch ones).
  expected.json   PRs following the authors' pipeline (see pr_* below) + the law fit.

Fixtures:
  gpt2             GPT2LMHeadModel (keys 'transformer.*', lm_head tied -> not
                   stored), n_embd 32, 3 layers, 4 heads, n_positions 64, vocab 128.
  neox_parallel    GPTNeoXForCausalLM, hidden 32, 3 layers, 2 heads (hd 16),
                   partial_rotary_factor (rotary_pct) 0.25 -> 4 rotary dims,
                   use_parallel_residual true, intermediate 64, vocab 100.
  neox_sequential  same shapes, use_parallel_residual false (different weights).
  llama_gqa        LlamaForCausalLM, hidden 32, 4 heads (hd 8) / 2 kv heads, inter 48,
                   3 layers, rope_theta 10000, rms eps 1e-5, vocab 100, untied.
  llama3_scaling   LlamaForCausalLM, hidden 32, 2 heads (hd 16), 1 kv head,
                   rope_theta 500000, rope_scaling llama3 (factor 8, low 1, high 4,
                   original_max_position_embeddings 64 so that the 8 frequencies
                   fall in all three llama3 bands: kept / smoothed / divided).
                   config.json is written in the LEGACY (transformers 4.x / hub)
                   form: top-level "rope_theta" + "rope_scaling" instead of v5's
                   "rope_parameters"; HF v5 loads it identically (asserted).
  mistral          MistralForCausalLM, hidden 32, 4 heads / 2 kv, sliding_window 8 (< most lengths: the window is exercised)
                   (> longest sequence 40, so it never bites), 3 layers.
  qwen2            Qwen2ForCausalLM, hidden 32, 4 heads / 2 kv, q/k/v biases,
                   tie_word_embeddings false, 3 layers.
  llama_bf16       LlamaForCausalLM saved in bfloat16 (tied embeddings, MHA kv=4);
                   hidden states = HF float32 after loading the bf16 weights
                   (from_pretrained(dir, dtype=torch.float32)).
  gpt2_sharded     GPT2Model (bare keys, no 'transformer.' prefix) saved with a
                   small max_shard_size -> model-0000k-of-0000n.safetensors + index.
  rwkv             RwkvForCausalLM hidden 32, 3 layers, attention_hidden 32,
                   intermediate 64, context_length 64, rescale_every 2 (eval-mode
                   rescaling happens after block 1), untied head.
  rwkv_bin         the same weights/config as rwkv, stored as pytorch_model.bin
                   (torch.save of the state_dict, zip format; transformers v5 no
                   longer writes .bin) + the same tokens/hidden/expected.
  mamba            MambaForCausalLM hidden 32, state 8, 3 layers, expand 2,
                   conv_kernel 4, time_step_rank auto (=2), slow (torch) path.
  llama_mlp_bias   LlamaForCausalLM as llama_gqa with mlp_bias=True (biases on
                   gate/up/down) and attention_bias=True (biases on q/k/v/o).
  rwkv_eps         as rwkv with layer_norm_epsilon 1e-3: HF's ln_out keeps
                   nn.LayerNorm's default eps 1e-5 (the blocks use 1e-3).
  bad_pickle       pytorch_model.bin = torch zip layout whose archive/data.pkl calls
                   os.system (GLOBAL 'os system' + REDUCE); config.json of an rwkv
                   model. NEVER load it; a safe reader must reject it.

expected.json:
  pr_sklearn  authors' pipeline: float32 features, fresh norm (nn.LayerNorm weight 1
              bias 0 / RMSNorm x*rsqrt(mean(x^2)+eps)) with the config's eps on every
              entry except the last, sklearn LinearRegression, mse/np.var(y).
  pr_exact    float64: normalise in float64 from the float32 hidden states, centre
              X and y, minimum-norm np.linalg.lstsq with rcond=1e-6 (singular values
              below 1e-6*sigma_max dropped; = Gram eigenvalues below 1e-12*lambda_max),
              PR = RSS/TSS. This drops (a) the exact ones-direction of freshly
              LayerNorm'd entries (sigma ratio ~1e-16) and (b) for the LAST entry of
              LayerNorm models (ln_f / final_layer_norm / ln_out, affine with random
              weights: sum_i (h_i-b_i)/w_i = 0) the direction that is null in exact
              arithmetic but carries float32 rounding noise (sigma ratio ~5e-8).
              The script asserts a gap: kept sigma ratios > 1e-4, dropped < 1e-6.
  pr_exact_rank, sv_ratio_kept_min, sv_ratio_dropped_max   per entry.
  pr_exact_keep_noise  same with rcond 1e-12 (keeps (b): fits the float32 noise
              direction; differs from pr_exact by up to a few % on that last entry).
              sklearn's sgelsd (cond 1.19e-7) dropped (b) too here: pr_sklearn and
              pr_exact agree to <= 1.8e-7 relative on every entry of every fixture.
  law_*       drop entry 0, x = 0..E-2, y = log10 PR[1:]: slope, intercept, r2,
              pearson_r, pearson_p, decay_ratio 10**slope, overall_ratio PR[-1]/PR[1].

Run:  python tools/make_model_fixtures.py [names...]   (from the repo root or anywhere)
"""
import json
import math
import os
import shutil
import sys
import zipfile

import numpy as np
import scipy
import scipy.stats
import sklearn
import torch
import transformers
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "models")
ROOT = os.path.normpath(ROOT)
LENGTHS = [1, 2, 40, 9, 37, 40, 23, 31, 32]
PAD_ID = 0
RCOND = 1e-6  # relative singular-value cut of pr_exact

torch.set_num_threads(2)


# ---------------------------------------------------------------- randomisation
@torch.no_grad()
def rerandomise(model, seed, mat_scale=1.0, emb_std=0.5):
    g = torch.Generator().manual_seed(seed)

    def normal(shape, mean, std):
        return torch.randn(shape, generator=g) * std + mean

    conv1d = {f"{mn}.weight" for mn, m in model.named_modules() if type(m).__name__ == "Conv1D"}
    seen = set()
    for name, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        leaf = name.split(".")[-1]
        lname = name.lower()
        shape = p.shape
        # --- RWKV specials
        if "time_mix" in leaf:
            p.copy_(torch.rand(shape, generator=g) * 0.8 + 0.1)
        elif leaf in ("time_decay", "time_first"):
            p.copy_(normal(shape, 0.0, 0.5))
        # --- Mamba specials
        elif leaf == "A_log":
            n = shape[-1]
            base = torch.log(torch.arange(1, n + 1, dtype=torch.float32)).expand(shape)
            p.copy_(base + normal(shape, 0.0, 0.2))
        elif leaf == "D":
            p.copy_(normal(shape, 1.0, 0.2))
        elif "dt_proj" in lname and leaf == "bias":
            dt = torch.exp(torch.rand(shape, generator=g) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
            p.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        elif "conv1d" in lname and leaf == "weight":
            p.copy_(normal(shape, 0.0, 0.3))
        # --- norms (1-D weights of *norm*/ln* modules)
        elif p.ndim == 1 and leaf == "weight":
            p.copy_(normal(shape, 1.0, 0.2))
        elif p.ndim == 1 and leaf == "bias":
            p.copy_(normal(shape, 0.0, 0.1))
        # --- embeddings
        elif any(k in lname for k in ("wte", "wpe", "embed", "embeddings")) and p.ndim == 2:
            p.copy_(normal(shape, 0.0, emb_std))
        elif p.ndim >= 2:
            # GPT-2 Conv1D stores [in, out]; nn.Linear [out, in]
            fan_in = shape[0] if name in conv1d else shape[-1]
            p.copy_(normal(shape, 0.0, mat_scale / math.sqrt(fan_in)))
        else:
            p.copy_(normal(shape, 0.0, 0.1))
    # sanity: nothing exactly 0 or 1 in any parameter
    for name, p in model.named_parameters():
        assert not torch.any(p == 0) and not torch.any(p == 1), name


# ---------------------------------------------------------------- fixture specs
def specs():
    T = transformers
    S = {}
    S["gpt2"] = dict(
        cls=T.GPT2LMHeadModel, norm="layernorm", eps_key="layer_norm_epsilon",
        cfg=T.GPT2Config(vocab_size=128, n_embd=32, n_layer=3, n_head=4, n_positions=64,
                         layer_norm_epsilon=1e-5, bos_token_id=1, eos_token_id=2))
    neox = dict(vocab_size=100, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                intermediate_size=64, rotary_pct=0.25, rotary_emb_base=10000,
                max_position_embeddings=64, layer_norm_eps=1e-5, bos_token_id=1, eos_token_id=2)
    S["neox_parallel"] = dict(cls=T.GPTNeoXForCausalLM, norm="layernorm", eps_key="layer_norm_eps",
                              cfg=T.GPTNeoXConfig(use_parallel_residual=True, **neox))
    S["neox_sequential"] = dict(cls=T.GPTNeoXForCausalLM, norm="layernorm", eps_key="layer_norm_eps",
                                cfg=T.GPTNeoXConfig(use_parallel_residual=False, **neox))
    S["llama_gqa"] = dict(
        cls=T.LlamaForCausalLM, norm="rmsnorm", eps_key="rms_norm_eps",
        cfg=T.LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                          num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                          rms_norm_eps=1e-5, max_position_embeddings=128, tie_word_embeddings=False))
    S["llama3_scaling"] = dict(
        cls=T.LlamaForCausalLM, norm="rmsnorm", eps_key="rms_norm_eps", legacy_rope=True,
        cfg=T.LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                          num_attention_heads=2, num_key_value_heads=1, rope_theta=500000.0,
                          rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
                          rms_norm_eps=1e-5, max_position_embeddings=512, tie_word_embeddings=False))
    S["mistral"] = dict(
        cls=T.MistralForCausalLM, norm="rmsnorm", eps_key="rms_norm_eps",
        cfg=T.MistralConfig(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                            num_attention_heads=4, num_key_value_heads=2, sliding_window=8,
                            rope_theta=10000.0, rms_norm_eps=1e-5, max_position_embeddings=128,
                            tie_word_embeddings=False))
    S["qwen2"] = dict(
        cls=T.Qwen2ForCausalLM, norm="rmsnorm", eps_key="rms_norm_eps",
        cfg=T.Qwen2Config(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                          num_attention_heads=4, num_key_value_heads=2, rope_theta=1000000.0,
                          rms_norm_eps=1e-6, max_position_embeddings=128, tie_word_embeddings=False,
                          use_sliding_window=False))
    S["llama_bf16"] = dict(
        cls=T.LlamaForCausalLM, norm="rmsnorm", eps_key="rms_norm_eps", bf16=True,
        cfg=T.LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                          num_attention_heads=4, num_key_value_heads=4, rope_theta=10000.0,
                          rms_norm_eps=1e-6, max_position_embeddings=128, tie_word_embeddings=True))
    S["gpt2_sharded"] = dict(
        cls=T.GPT2Model, norm="layernorm", eps_key="layer_norm_epsilon", shard=40_000,
        cfg=T.GPT2Config(vocab_size=100, n_embd=32, n_layer=3, n_head=2, n_positions=64, n_inner=64,
                         layer_norm_epsilon=1e-5, bos_token_id=1, eos_token_id=2))
    S["rwkv"] = dict(
        cls=T.RwkvForCausalLM, norm="layernorm", eps_key="layer_norm_epsilon", also_bin="rwkv_bin",
        cfg=T.RwkvConfig(vocab_size=100, hidden_size=32, num_hidden_layers=3, attention_hidden_size=32,
                         intermediate_size=64, context_length=64, rescale_every=2,
                         layer_norm_epsilon=1e-5, tie_word_embeddings=False, bos_token_id=1,
                         eos_token_id=2))
    S["mamba"] = dict(
        cls=T.MambaForCausalLM, norm="rmsnorm", eps_key="layer_norm_epsilon",
        cfg=T.MambaConfig(vocab_size=100, hidden_size=32, state_size=8, num_hidden_layers=3, expand=2,
                          conv_kernel=4, time_step_rank="auto", layer_norm_epsilon=1e-5,
                          bos_token_id=1, eos_token_id=2, pad_token_id=0))
    # HF puts mlp_bias on gate/up/down and attention_bias on q/k/v/o
    S["llama_mlp_bias"] = dict(
        cls=T.LlamaForCausalLM, norm="rmsnorm", eps_key="rms_norm_eps",
        cfg=T.LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                          num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
                          rms_norm_eps=1e-5, max_position_embeddings=128, tie_word_embeddings=False,
                          mlp_bias=True, attention_bias=True))
    # RwkvModel.ln_out is nn.LayerNorm(hidden_size): eps 1e-5 whatever layer_norm_epsilon says
    S["rwkv_eps"] = dict(
        cls=T.RwkvForCausalLM, norm="layernorm", eps_key="layer_norm_epsilon",
        cfg=T.RwkvConfig(vocab_size=100, hidden_size=32, num_hidden_layers=3, attention_hidden_size=32,
                         intermediate_size=64, context_length=64, rescale_every=2,
                         layer_norm_epsilon=1e-3, tie_word_embeddings=False, bos_token_id=1,
                         eos_token_id=2))
    return S


SEEDS = {n: 1000 + i for i, n in enumerate(
    ["gpt2", "neox_parallel", "neox_sequential", "llama_gqa", "llama3_scaling", "mistral",
     "qwen2", "llama_bf16", "gpt2_sharded", "rwkv", "mamba", "llama_mlp_bias", "rwkv_eps"])}


# ---------------------------------------------------------------- hidden states
def make_tokens(seed, vocab):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab, size=L).tolist() for L in LENGTHS]


@torch.no_grad()
def run_hidden(base, seqs):
    """One right-padded batch with attention_mask; returns (P, E, d) float32 and per-seq runs."""
    B, T = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((B, T), PAD_ID, dtype=torch.long)
    mask = torch.zeros((B, T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    out = base(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    hs = torch.stack(out.hidden_states, dim=2).float()  # B, T, E, d
    padded = np.concatenate([hs[i, :len(s)].numpy() for i, s in enumerate(seqs)], axis=0)
    single = []
    for s in seqs:
        o = base(input_ids=torch.tensor([s]), output_hidden_states=True)
        single.append(torch.stack(o.hidden_states, dim=2)[0].float().numpy())
    single = np.concatenate(single, axis=0)
    return padded.astype(np.float32), single.astype(np.float32)


# ---------------------------------------------------------------- PR
def examples(hidden, seqs):
    rows, labels, off = [], [], 0
    for s in seqs:
        for j in range(len(s) - 1):
            rows.append(off + j)
            labels.append(s[j + 1])
        off += len(s)
    return hidden[np.array(rows)], np.array(labels, dtype=np.int64)


def norm32(x, kind, eps):
    t = torch.from_numpy(np.ascontiguousarray(x))
    with torch.no_grad():
        if kind == "layernorm":
            ln = torch.nn.LayerNorm(t.shape[-1], eps=eps)
            return ln(t).numpy()
        return (t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + eps)).numpy()


def norm64(x, kind, eps):
    x = x.astype(np.float64)
    if kind == "layernorm":
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps)
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps)


def pr_sklearn(X, y):
    reg = LinearRegression().fit(X, y)
    return float(mean_squared_error(y, reg.predict(X)) / np.var(y))


def pr_exact(X, y, rcond):
    Xc = X - X.mean(0)
    yc = y.astype(np.float64) - y.mean()
    beta, _, rank, sv = np.linalg.lstsq(Xc, yc, rcond=rcond)
    r = yc - Xc @ beta
    ratio = sv / sv[0]
    kept_min = float(ratio[ratio > rcond].min())
    dropped = ratio[ratio <= rcond]
    dropped_max = float(dropped.max()) if dropped.size else 0.0
    return float(r @ r / (yc @ yc)), int(rank), kept_min, dropped_max


def law(pr):
    y = np.log10(np.asarray(pr[1:], dtype=np.float64))
    x = np.arange(len(y), dtype=np.float64)
    slope, intercept = np.polyfit(x, y, 1)
    fit = slope * x + intercept
    ss_res = float(((y - fit) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    res = scipy.stats.pearsonr(x, y)
    return {"slope": float(slope), "intercept": float(intercept),
            "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0,
            "pearson_r": float(res.statistic), "pearson_p": float(res.pvalue),
            "decay_ratio": float(10 ** slope), "overall_ratio": float(pr[-1] / pr[1])}


# ---------------------------------------------------------------- writing
def write_legacy_rope(cfg_path):
    """Rewrite v5's rope_parameters as the 4.x/hub form rope_theta + rope_scaling."""
    with open(cfg_path) as f:
        c = json.load(f)
    rp = c.pop("rope_parameters")
    c["rope_theta"] = rp.pop("rope_theta")
    c["rope_scaling"] = rp
    with open(cfg_path, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")


def build(name, spec, report):
    out = os.path.join(ROOT, name)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    seed = SEEDS[name]
    torch.manual_seed(seed)
    cfg = spec["cfg"]
    model = spec["cls"](cfg)
    rerandomise(model, seed)
    model.eval()
    ref_inv_freq = None
    if spec.get("bf16"):
        model = model.to(torch.bfloat16)
    if spec.get("shard"):
        model.save_pretrained(out, max_shard_size=spec["shard"])
        assert os.path.exists(os.path.join(out, "model.safetensors.index.json"))
    else:
        model.save_pretrained(out)
    if spec.get("legacy_rope"):
        ref_inv_freq = model.model.rotary_emb.inv_freq.clone()
        write_legacy_rope(os.path.join(out, "config.json"))
    if spec.get("also_bin"):
        bdir = os.path.join(ROOT, spec["also_bin"])
        if os.path.isdir(bdir):
            shutil.rmtree(bdir)
        os.makedirs(bdir)
        shutil.copy(os.path.join(out, "config.json"), bdir)
        sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        torch.save(sd, os.path.join(bdir, "pytorch_model.bin"))

    # hidden states from the saved directory, base model, float32
    base = transformers.AutoModel.from_pretrained(out, dtype=torch.float32)
    base.eval()
    if ref_inv_freq is not None:
        got = base.rotary_emb.inv_freq
        assert torch.allclose(got, ref_inv_freq), (got, ref_inv_freq)
        # the three llama3 bands are all present
        hd = cfg.hidden_size // cfg.num_attention_heads
        orig = 1.0 / (500000.0 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        ratio = (got / orig).tolist()
        assert any(abs(r - 1) < 1e-6 for r in ratio) and any(abs(r - 1 / 8) < 1e-6 for r in ratio) \
            and any(1 / 8 + 1e-3 < r < 1 - 1e-3 for r in ratio), ratio
        report.setdefault("notes", []).append(f"{name}: inv_freq / unscaled = {[round(r, 6) for r in ratio]}")
    vocab = cfg.vocab_size
    seqs = make_tokens(seed + 7, vocab)
    hidden, single = run_hidden(base, seqs)
    # padded vs unpadded
    diff = np.abs(hidden - single).max(axis=(0, 2))
    scale = np.abs(single).max(axis=(0, 2))
    rel = diff / scale
    report.setdefault("tol", {})[name] = float(rel.max())
    assert rel.max() < 1e-5, (name, rel)

    E, d = hidden.shape[1], hidden.shape[2]
    cfgd = base.config
    eps = float(getattr(cfgd, spec["eps_key"]))
    X, y = examples(hidden, seqs)
    prs, pre, ranks, svk, svd, keep = [], [], [], [], [], []
    for e in range(E):
        Xe = X[:, e, :]
        last = e == E - 1
        X32 = Xe if last else norm32(Xe, spec["norm"], eps)
        X64 = Xe.astype(np.float64) if last else norm64(Xe, spec["norm"], eps)
        prs.append(pr_sklearn(X32, y))
        p, r, kmin, dmax = pr_exact(X64, y, RCOND)
        # a clear gap between kept and dropped singular values
        assert kmin > 1e-4 and dmax < 1e-6, (name, e, kmin, dmax)
        pre.append(p); ranks.append(r); svk.append(kmin); svd.append(dmax)
        keep.append(pr_exact(X64, y, 1e-12)[0])
    exp = {
        "name": name, "model_type": cfgd.model_type, "architecture": type(model).__name__,
        "base_class": type(base).__name__, "n_entries": E, "dim": d, "vocab_size": vocab,
        "n_layers": cfgd.num_hidden_layers, "norm": spec["norm"], "eps": eps,
        "n_sequences": len(seqs), "n_tokens": int(hidden.shape[0]), "n_examples": int(len(y)),
        "pad_id": PAD_ID, "weights_dtype": "bfloat16" if spec.get("bf16") else "float32",
        "pr_sklearn": prs, "pr_exact": pre, "pr_exact_rcond": RCOND, "pr_exact_rank": ranks,
        "sv_ratio_kept_min": svk, "sv_ratio_dropped_max": svd, "pr_exact_keep_noise": keep,
        "law_sklearn": law(prs), "law_exact": law(pre),
        "padded_vs_unpadded_max_rel": float(rel.max()),
        "transformers_version": transformers.__version__, "torch_version": torch.__version__,
        "sklearn_version": sklearn.__version__, "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
    }
    if cfgd.model_type == "mistral":
        exp["sliding_window"] = cfgd.sliding_window
        exp["note"] = "sliding_window 8 < the longer sequences (up to 40): the window changes their hidden states"
    if spec.get("legacy_rope"):
        exp["config_style"] = "legacy rope_theta + rope_scaling (transformers 4.x / hub form)"
    if spec.get("bf16"):
        exp["note"] = "weights stored bf16; hidden states by HF in float32 after loading (dtype=torch.float32)"
    dirs = [out] + ([os.path.join(ROOT, spec["also_bin"])] if spec.get("also_bin") else [])
    for dd in dirs:
        with open(os.path.join(dd, "tokens.jsonl"), "w") as f:
            for s in seqs:
                f.write(json.dumps(s) + "\n")
        np.save(os.path.join(dd, "hidden.npy"), hidden)
        e2 = dict(exp)
        if dd != out:
            e2["name"] = os.path.basename(dd)
            e2["note"] = "same weights as ../rwkv, stored as pytorch_model.bin (torch.save zip format)"
        with open(os.path.join(dd, "expected.json"), "w") as f:
            json.dump(e2, f, indent=1)
            f.write("\n")
    if spec.get("also_bin"):
        b2 = transformers.AutoModel.from_pretrained(dirs[1], dtype=torch.float32).eval()
        h2, _ = run_hidden(b2, seqs)
        assert np.array_equal(h2, hidden), "rwkv_bin differs from rwkv"
    print(f"{name}: E={E} d={d} P={hidden.shape[0]} N={len(y)} pad-rel={rel.max():.2e}")
    print("  pr_sklearn", np.round(prs, 6).tolist())
    print("  pr_exact  ", np.round(pre, 6).tolist(), "ranks", ranks)


def make_bad_pickle():
    out = os.path.join(ROOT, "bad_pickle")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    cfg = transformers.RwkvConfig(vocab_size=100, hidden_size=32, num_hidden_layers=3,
                                  attention_hidden_size=32, intermediate_size=64, context_length=64,
                                  rescale_every=2)
    cfg.architectures = ["RwkvForCausalLM"]
    cfg.to_json_file(os.path.join(out, "config.json"))
    cmd = "touch /tmp/layerlaw_bad_pickle_EXECUTED"
    c = cmd.encode()
    # hand-written protocol-2 pickle: {'rwkv.embeddings.weight': os.system(cmd)}
    pkl = (b"\x80\x02"            # PROTO 2
           b"}q\x00"              # EMPTY_DICT, BINPUT 0
           b"X" + len(b"rwkv.embeddings.weight").to_bytes(4, "little") + b"rwkv.embeddings.weight" +
           b"cos\nsystem\n"       # GLOBAL os.system
           b"X" + len(c).to_bytes(4, "little") + c +
           b"\x85"                # TUPLE1
           b"R"                   # REDUCE  -> would run os.system(cmd)
           b"s"                   # SETITEM
           b".")                  # STOP
    with zipfile.ZipFile(os.path.join(out, "pytorch_model.bin"), "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
        z.writestr("archive/.data/serialization_id", "0000000000000000000000000000000000000000")
    with open(os.path.join(out, "README"), "w") as f:
        f.write("pytorch_model.bin here is MALICIOUS on purpose: archive/data.pkl does\n"
                "GLOBAL 'os system' + REDUCE with '%s'.\n"
                "A safe loader must reject it without executing anything. Do not torch.load it.\n" % cmd)
    print("bad_pickle: written")


def main():
    S = specs()
    names = sys.argv[1:] or list(S) + ["bad_pickle"]
    report = {}
    for n in names:
        if n == "bad_pickle":
            make_bad_pickle()
        else:
            build(n, S[n], report)
    for k, v in report.get("tol", {}).items():
        print(f"padded vs unpadded max rel diff {k}: {v:.3e}")
    for n in report.get("notes", []):
        print(n)


if __name__ == "__main__":
    main()
