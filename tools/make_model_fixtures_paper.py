#!/usr/bin/env python3
"""Golden fixtures for the paper's other model families (issue 14), written with
HF transformers into tests/fixtures/models/<name>/ in the same layout as
tools/make_model_fixtures.py (whose helpers this script imports: the weight
re-randomisation, the token draw, the PR pipelines and the law fit).

  config.json, model.safetensors   save_pretrained of the tiny random model
  tokens.jsonl   9 sequences, lengths 1, 2, 40, 9, 37, 40, 23, 31, 32
  hidden.npy     float32 (P, E, d): HF hidden states of the BASE model
                 (AutoModel, float32, eval) from ONE right-padded batch with
                 attention_mask; checked against unpadded per-sequence runs
  expected.json  PRs (authors' pipeline and exact float64) + law fits

Fixtures (vocab 100, hidden 32 unless said):
  phi            PhiForCausalLM: parallel attention + MLP from one input_layernorm,
                 partial_rotary_factor 0.5 (4 of 8 head dims rotated), q/k/v/dense
                 and fc1/fc2 with biases, gelu_new, final_layernorm.  norm: layernorm.
  phi3           Phi3ForCausalLM: fused qkv_proj (q | k | v rows), fused
                 gate_up_proj (gate | up rows), GQA 4/2, RMSNorm.  norm: rmsnorm.
  phi3_longrope  Phi3ForCausalLM with config.json in the hub's LEGACY form:
                 "rope_scaling": {"type": "su", short_factor, long_factor},
                 top-level rope_theta and original_max_position_embeddings 24
                 (also inside rope_scaling: transformers 5.24 requires it there),
                 max_position_embeddings 256 -> attention_factor
                 sqrt(1 + ln(256/24) / ln 24) on cos/sin.  Lengths 1..23 take
                 short_factor, 31..40 long_factor.  HF picks the factors from
                 the PADDED length of a batch (a property of the batch, not of
                 the sequence); the authors run every sequence alone, so
                 hidden.npy holds the PER-SEQUENCE (unpadded) runs here, and
                 padded_vs_unpadded_max_rel records how far the padded batch is.
  openai-gpt     OpenAIGPTModel: post-LN blocks (x = ln_1(x + attn(x));
                 x = ln_2(x + mlp(x))), Conv1D weights, no final norm.  norm: none.
  mamba2         Mamba2ForCausalLM: 8 heads x head_dim 8 (= expand 2 x 32),
                 n_groups 2, state 8, conv 4, chunk_size 16 (the torch SSD path
                 crosses chunks), gated RMSNorm (norm(y * silu(z)) per group).
                 norm: rmsnorm.
  gemma          GemmaForCausalLM: embeddings x sqrt(hidden), RMSNorm (1 + w),
                 gelu tanh gated MLP, head_dim 8.  norm: rmsnorm.
  gemma2         Gemma2ForCausalLM: sandwich norms (pre/post attention and
                 pre/post feedforward), attn_logit_softcapping 5 (small so that it
                 bites), query_pre_attn_scalar 16, sliding_window 8 on even layers.
                 norm: rmsnorm.
  qwen3          Qwen3ForCausalLM: q_norm/k_norm (per head RMSNorm before RoPE),
                 head_dim 16 != hidden/heads.  norm: rmsnorm.
  bert           BertModel (no pooler weights needed; AutoModel adds one, unused):
                 post-LN encoder, embeddings = LN(word + position + token_type 0).
                 Non-causal attention with the padding mask.  norm: none.
  roberta        RobertaModel: like bert but position ids = padding_idx + 1 + t
                 (pad_token_id 1; real tokens avoid id 1 and padding uses 1, as
                 HF's create_position_ids_from_input_ids needs).  norm: none.
  t5             T5Model (relu FFN, as t5-small/base): encoder and decoder stacks,
                 2 + 2 layers, relative position buckets 8 / max distance 20
                 (bidirectional in the encoder, causal in the decoder), T5 norm
                 w * x * rsqrt(mean(x^2) + eps) (no mean, no bias).  The decoder is
                 fed the SAME ids as the encoder (decoder_input_ids = input_ids,
                 decoder_attention_mask = attention_mask).  hidden.npy holds the
                 encoder's L+1 entries then the decoder's L+1 entries along axis 1
                 (E = 6).  norm: none.  expected.json: PRs over all 6 entries and
                 law fits per stack (law_*_encoder over entries 0..2, law_*_decoder
                 over 3..5, each dropping its stack's entry 0).
  t5_gated       the same with feed_forward_proj "gated-gelu" (T5 v1.1 / Flan-T5),
                 untied lm_head.
  phi_qk_layernorm  phi with qk_layernorm: LayerNorm(head_dim) of q and k per
                 head before the partial RoPE (weights and biases redrawn).
  gemma2_qpas_hd gemma2 with query_pre_attn_scalar = head_dim (8), as Gemma-2
                 2B/9B and as llama.cpp assumes for a GGUF file (its converter
                 does not write the key).
  t5_gated_maxd128  t5_gated with relative_attention_max_distance 128 (T5's
                 default, hard-wired in llama.cpp; not in a GGUF file).

Norms for the PRs follow REFERENCE.md: the authors' 'initialized-LN' branch
matches phi-1.5/2 (LayerNorm), phi-3 and mamba (RMSNorm); openai-gpt, bert,
roberta and t5 match no branch -> raw features ("none").  gemma, gemma2, qwen3
are not in the authors' code; we use the fresh RMSNorm their RMSNorm blocks
suggest (layerlaw's choice, stated in docs/families.md).

Run:  python3 tools/make_model_fixtures_paper.py [names...]
"""
import json
import os
import shutil
import sys

import numpy as np
import scipy
import sklearn
import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model_fixtures as base_fx  # noqa: E402
from make_model_fixtures import (RCOND, ROOT, examples, law, make_tokens, norm32, norm64,  # noqa: E402
                                 pr_exact, pr_sklearn, rerandomise)

torch.set_num_threads(2)

SEEDS = {n: 2000 + i for i, n in enumerate(
    ["phi", "phi3", "phi3_longrope", "openai-gpt", "mamba2", "gemma", "gemma2", "qwen3", "bert",
     "roberta", "t5", "t5_gated", "gemma2_qpas_hd", "t5_gated_maxd128", "phi_qk_layernorm"])}


def specs():
    T = transformers
    S = {}
    S["phi"] = dict(
        cls=T.PhiForCausalLM, norm="layernorm", eps_key="layer_norm_eps",
        cfg=T.PhiConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                        num_attention_heads=4, num_key_value_heads=4, partial_rotary_factor=0.5,
                        rope_theta=10000.0, layer_norm_eps=1e-5, max_position_embeddings=128,
                        hidden_act="gelu_new", qk_layernorm=False, tie_word_embeddings=False,
                        bos_token_id=1, eos_token_id=2))
    phi3 = dict(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    S["phi3"] = dict(
        cls=T.Phi3ForCausalLM, norm="rmsnorm", eps_key="rms_norm_eps",
        cfg=T.Phi3Config(max_position_embeddings=128, original_max_position_embeddings=128,
                         rope_theta=10000.0, **phi3))
    g = np.random.default_rng(77)
    short = [round(float(v), 4) for v in 1.0 + 3.0 * g.random(4)]   # head_dim 8 -> 4 frequencies
    long_ = [round(float(v), 4) for v in 2.0 + 10.0 * g.random(4)]
    S["phi3_longrope"] = dict(
        cls=T.Phi3ForCausalLM, norm="rmsnorm", eps_key="rms_norm_eps", legacy="phi3_su",
        per_sequence=True,
        cfg=T.Phi3Config(max_position_embeddings=256, original_max_position_embeddings=24,
                         rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                          "short_factor": short, "long_factor": long_,
                                          "original_max_position_embeddings": 24},
                         **phi3))
    S["openai-gpt"] = dict(
        cls=T.OpenAIGPTLMHeadModel, norm="none", eps_key="layer_norm_epsilon",
        cfg=T.OpenAIGPTConfig(vocab_size=100, n_positions=64, n_embd=32, n_layer=3, n_head=4,
                              afn="gelu", layer_norm_epsilon=1e-5))
    S["mamba2"] = dict(
        cls=T.Mamba2ForCausalLM, norm="rmsnorm", eps_key="layer_norm_epsilon",
        cfg=T.Mamba2Config(vocab_size=100, hidden_size=32, state_size=8, num_hidden_layers=3, expand=2,
                           num_heads=8, head_dim=8, n_groups=2, conv_kernel=4, chunk_size=16,
                           use_bias=False, use_conv_bias=True, layer_norm_epsilon=1e-5,
                           rms_norm=True, norm_before_gate=False, residual_in_fp32=True,
                           tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=0))
    S["gemma"] = dict(
        cls=T.GemmaForCausalLM, norm="rmsnorm", eps_key="rms_norm_eps",
        cfg=T.GemmaConfig(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                          num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                          hidden_activation="gelu_pytorch_tanh", rope_theta=10000.0,
                          rms_norm_eps=1e-6, max_position_embeddings=128,
                          bos_token_id=1, eos_token_id=2, pad_token_id=0))
    S["gemma2"] = dict(
        cls=T.Gemma2ForCausalLM, norm="rmsnorm", eps_key="rms_norm_eps",
        cfg=T.Gemma2Config(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=8,
                           hidden_activation="gelu_pytorch_tanh", rope_theta=10000.0,
                           rms_norm_eps=1e-6, max_position_embeddings=128, query_pre_attn_scalar=16,
                           sliding_window=8, attn_logit_softcapping=5.0, final_logit_softcapping=30.0,
                           attn_implementation="eager", bos_token_id=1, eos_token_id=2, pad_token_id=0))
    S["qwen3"] = dict(
        cls=T.Qwen3ForCausalLM, norm="rmsnorm", eps_key="rms_norm_eps",
        cfg=T.Qwen3Config(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                          num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                          rope_theta=1000000.0, rms_norm_eps=1e-6, max_position_embeddings=128,
                          tie_word_embeddings=False, use_sliding_window=False,
                          bos_token_id=1, eos_token_id=2, pad_token_id=0))
    S["bert"] = dict(
        cls=T.BertModel, norm="none", eps_key="layer_norm_eps",
        cfg=T.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
                         hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0))
    S["roberta"] = dict(
        cls=T.RobertaModel, norm="none", eps_key="layer_norm_eps", pad=1, avoid=(1,),
        cfg=T.RobertaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                            intermediate_size=64, max_position_embeddings=66, type_vocab_size=1,
                            hidden_act="gelu", layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
                            eos_token_id=2))
    t5 = dict(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
              relative_attention_num_buckets=8, relative_attention_max_distance=20,
              layer_norm_epsilon=1e-6, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    S["t5"] = dict(cls=T.T5Model, norm="none", eps_key="layer_norm_epsilon", t5=True,
                   cfg=T.T5Config(feed_forward_proj="relu", tie_word_embeddings=True, **t5))
    S["t5_gated"] = dict(cls=T.T5Model, norm="none", eps_key="layer_norm_epsilon", t5=True,
                         cfg=T.T5Config(feed_forward_proj="gated-gelu", tie_word_embeddings=False, **t5))
    # The settings llama.cpp assumes when it reads a GGUF file (its converter
    # writes neither query_pre_attn_scalar nor relative_attention_max_distance):
    # Gemma-2 2B/9B have query_pre_attn_scalar = head_dim; T5 uses max distance
    # 128.  For the GGUF tests (tests/test_gguf_families.c) of the converter's files.
    g2 = S["gemma2"]["cfg"].to_dict()
    g2.update(query_pre_attn_scalar=8)
    S["gemma2_qpas_hd"] = dict(S["gemma2"], cfg=T.Gemma2Config(**{k: v for k, v in g2.items()
                                                                  if k in T.Gemma2Config().to_dict()}))
    S["gemma2_qpas_hd"]["cfg"]._attn_implementation = "eager"
    ph = S["phi"]["cfg"].to_dict()
    ph.update(qk_layernorm=True)
    S["phi_qk_layernorm"] = dict(S["phi"], cfg=T.PhiConfig(**{k: v for k, v in ph.items()
                                                              if k in T.PhiConfig().to_dict()}))
    t5m = dict(t5, relative_attention_max_distance=128)
    S["t5_gated_maxd128"] = dict(cls=T.T5Model, norm="none", eps_key="layer_norm_epsilon", t5=True,
                                 cfg=T.T5Config(feed_forward_proj="gated-gelu", tie_word_embeddings=False, **t5m))
    return S


@torch.no_grad()
def forward_entries(model, ids, mask, t5):
    """Hidden states as a list of (B, T, d) tensors (T5: encoder then decoder)."""
    if t5:
        out = model(input_ids=ids, attention_mask=mask, decoder_input_ids=ids, decoder_attention_mask=mask,
                    output_hidden_states=True)
        return list(out.encoder_hidden_states) + list(out.decoder_hidden_states), out
    out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    return list(out.hidden_states), out


@torch.no_grad()
def run_hidden(model, seqs, pad, t5):
    B, T = len(seqs), max(len(s) for s in seqs)
    ids = torch.full((B, T), pad, dtype=torch.long)
    mask = torch.zeros((B, T), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    hs, out = forward_entries(model, ids, mask, t5)
    last = out.last_hidden_state
    # the last entry is the model's output (after its final norm, if it has one)
    assert torch.equal(hs[-1], last), "hidden_states[-1] != last_hidden_state"
    hs = torch.stack(hs, dim=2).float()
    padded = np.concatenate([hs[i, :len(s)].numpy() for i, s in enumerate(seqs)], axis=0)
    single = []
    for s in seqs:
        t = torch.tensor([s])
        h1, _ = forward_entries(model, t, torch.ones_like(t), t5)
        single.append(torch.stack(h1, dim=2)[0].float().numpy())
    return padded.astype(np.float32), np.concatenate(single, 0).astype(np.float32)


def norm_entry(Xe, kind, eps, last):
    if kind == "none" or last:
        return Xe, Xe.astype(np.float64)
    return norm32(Xe, kind, eps), norm64(Xe, kind, eps)


def write_phi3_su(cfg_path):
    """Rewrite v5's rope_parameters as the hub's Phi-3 form (rope_theta + rope_scaling type su)."""
    with open(cfg_path) as f:
        c = json.load(f)
    rp = c.pop("rope_parameters")
    c["rope_theta"] = rp.pop("rope_theta")
    rp.pop("partial_rotary_factor", None)
    # kept inside rope_scaling as well as at the top level: transformers 5.24's
    # longrope validation requires it there (hub Phi-3 configs only have the top-level one)
    rp.pop("rope_type")
    c["rope_scaling"] = {"type": "su", **rp}
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
    model.save_pretrained(out)
    ref_inv = None
    if spec.get("legacy") == "phi3_su":
        ref_inv = model.model.rotary_emb.inv_freq.clone()
        ref_att = model.model.rotary_emb.attention_scaling
        write_phi3_su(os.path.join(out, "config.json"))
    t5 = spec.get("t5", False)
    pad = spec.get("pad", 0)
    basem = transformers.AutoModel.from_pretrained(out, dtype=torch.float32).eval()
    if ref_inv is not None:
        got = basem.rotary_emb.inv_freq
        assert torch.equal(got, ref_inv), (got, ref_inv)
        assert abs(basem.rotary_emb.attention_scaling - ref_att) < 1e-12
        report.setdefault("notes", []).append(
            f"{name}: attention_scaling {basem.rotary_emb.attention_scaling:.9f}, inv_freq {got.tolist()}")
    vocab = cfg.vocab_size
    seqs = make_tokens(seed + 7, vocab)
    for a in spec.get("avoid", ()):
        seqs = [[(t + 1) % vocab if t == a else t for t in s] for s in seqs]
        assert all(a not in s for s in seqs)
    hidden, single = run_hidden(basem, seqs, pad, t5)
    diff = np.abs(hidden - single).max(axis=(0, 2))
    scale = np.abs(single).max(axis=(0, 2))
    rel = diff / scale
    report.setdefault("tol", {})[name] = float(rel.max())
    if spec.get("per_sequence"):
        # the sequence alone is the reference (the authors' pipeline); the
        # padded batch must differ here, or the fixture does not test it
        assert rel.max() > 1e-3, (name, rel)
        hidden = single
    else:
        assert rel.max() < 1e-5, (name, rel)

    E, d = hidden.shape[1], hidden.shape[2]
    cfgd = basem.config
    eps = float(getattr(cfgd, spec["eps_key"]))
    X, y = examples(hidden, seqs)
    n_enc = cfgd.num_layers + 1 if t5 else E
    prs, pre, ranks, svk, svd, keep = [], [], [], [], [], []
    for e in range(E):
        # fresh norm on every entry but the last of (each) stack
        last = e == E - 1 or (t5 and e == n_enc - 1)
        X32, X64 = norm_entry(X[:, e, :], spec["norm"], eps, last)
        prs.append(pr_sklearn(X32, y))
        p, r, kmin, dmax = pr_exact(X64, y, RCOND)
        assert kmin > 1e-4 and dmax < 1e-6, (name, e, kmin, dmax)
        pre.append(p); ranks.append(r); svk.append(kmin); svd.append(dmax)
        keep.append(pr_exact(X64, y, 1e-12)[0])
    exp = {
        "name": name, "model_type": cfgd.model_type, "architecture": type(model).__name__,
        "base_class": type(basem).__name__, "n_entries": E, "dim": d, "vocab_size": vocab,
        "n_layers": cfgd.num_hidden_layers, "norm": spec["norm"], "eps": eps,
        "n_sequences": len(seqs), "n_tokens": int(hidden.shape[0]), "n_examples": int(len(y)),
        "pad_id": pad, "weights_dtype": "float32",
        "pr_sklearn": prs, "pr_exact": pre, "pr_exact_rcond": RCOND, "pr_exact_rank": ranks,
        "sv_ratio_kept_min": svk, "sv_ratio_dropped_max": svd, "pr_exact_keep_noise": keep,
        "padded_vs_unpadded_max_rel": float(rel.max()),
        "transformers_version": transformers.__version__, "torch_version": torch.__version__,
        "sklearn_version": sklearn.__version__, "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
    }
    if t5:
        exp["n_encoder_entries"] = n_enc
        exp["n_decoder_entries"] = E - n_enc
        exp["note"] = ("entries 0..n_encoder_entries-1: encoder_hidden_states; then decoder_hidden_states; "
                       "decoder_input_ids = input_ids; fresh norm: none")
        exp["law_sklearn_encoder"] = law(prs[:n_enc])
        exp["law_exact_encoder"] = law(pre[:n_enc])
        exp["law_sklearn_decoder"] = law(prs[n_enc:])
        exp["law_exact_decoder"] = law(pre[n_enc:])
    else:
        exp["law_sklearn"] = law(prs)
        exp["law_exact"] = law(pre)
    if spec.get("legacy"):
        exp["config_style"] = "legacy hub form: rope_theta + rope_scaling {type: su}"
    with open(os.path.join(out, "tokens.jsonl"), "w") as f:
        for s in seqs:
            f.write(json.dumps(s) + "\n")
    np.save(os.path.join(out, "hidden.npy"), hidden)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1)
        f.write("\n")
    print(f"{name}: E={E} d={d} P={hidden.shape[0]} N={len(y)} pad-rel={rel.max():.2e}")
    print("  pr_sklearn", np.round(prs, 6).tolist())
    print("  pr_exact  ", np.round(pre, 6).tolist(), "ranks", ranks)


def main():
    S = specs()
    names = sys.argv[1:] or list(S)
    report = {}
    for n in names:
        build(n, S[n], report)
    for k, v in report.get("tol", {}).items():
        print(f"padded vs unpadded max rel diff {k}: {v:.3e}")
    for n in report.get("notes", []):
        print(n)


if __name__ == "__main__":
    main()
