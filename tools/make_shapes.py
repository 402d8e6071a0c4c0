#!/usr/bin/env python3
"""Writes configs/shapes/<name>/config.json: HF config.json files at the shapes of
public checkpoints, for synthetic (random-weight) models in throughput sweeps
and `layerlaw bench`.  No weights, no download: the numbers below are those
of the public config.json files on the Hugging Face hub (repository named in
each file's "comment").  Values marked UNSURE in `unsure` were written from
memory of those files and not re-read; everything else is the
architecture's well-known shape (layers, width, heads, MLP width, vocab).

    python3 tools/make_shapes.py            # rewrites configs/shapes/
"""
import json
import math
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "configs", "shapes")


def gpt2(name, repo, d, L, H):
    return name, repo, {
        "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 50257,
        "n_positions": 1024, "n_ctx": 1024, "n_embd": d, "n_layer": L, "n_head": H, "n_inner": None,
        "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
        "bos_token_id": 50256, "eos_token_id": 50256,
    }, []


def pythia(name, d, L, H, vocab):
    return name, "EleutherAI/" + name, {
        "model_type": "gpt_neox", "architectures": ["GPTNeoXForCausalLM"], "vocab_size": vocab,
        "hidden_size": d, "num_hidden_layers": L, "num_attention_heads": H, "intermediate_size": 4 * d,
        "hidden_act": "gelu", "rotary_pct": 0.25, "rotary_emb_base": 10000, "max_position_embeddings": 2048,
        "layer_norm_eps": 1e-5, "use_parallel_residual": True, "tie_word_embeddings": False,
        "bos_token_id": 0, "eos_token_id": 0,
    }, []


def llama(name, repo, d, L, H, KV, ff, vocab, theta, max_pos, eps, unsure=()):
    c = {
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": vocab, "hidden_size": d,
        "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": KV, "intermediate_size": ff,
        "hidden_act": "silu", "max_position_embeddings": max_pos, "rms_norm_eps": eps, "rope_theta": theta,
        "rope_scaling": None, "tie_word_embeddings": False, "attention_bias": False,
    }
    return name, repo, c, list(unsure)


def mistral():
    return "mistral-7b", "mistralai/Mistral-7B-v0.1", {
        "model_type": "mistral", "architectures": ["MistralForCausalLM"], "vocab_size": 32000, "hidden_size": 4096,
        "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
        "hidden_act": "silu", "max_position_embeddings": 32768, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
        "sliding_window": 4096, "tie_word_embeddings": False,
    }, []


def qwen2(name, d, L, H, KV, ff, vocab, tie, unsure=()):
    return name, "Qwen/" + name.replace("qwen2", "Qwen2").replace("b", "B"), {
        "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "vocab_size": vocab, "hidden_size": d,
        "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": KV, "intermediate_size": ff,
        "hidden_act": "silu", "max_position_embeddings": 131072, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "sliding_window": 131072, "use_sliding_window": False, "max_window_layers": L, "tie_word_embeddings": tie,
    }, ["max_position_embeddings", "sliding_window", "max_window_layers"] + list(unsure)


def rwkv(name, repo, d, L, unsure=()):
    return name, repo, {
        "model_type": "rwkv", "architectures": ["RwkvForCausalLM"], "vocab_size": 50277, "hidden_size": d,
        "attention_hidden_size": d, "intermediate_size": None, "num_hidden_layers": L, "context_length": 1024,
        "layer_norm_epsilon": 1e-5, "rescale_every": 6, "tie_word_embeddings": False,
        "bos_token_id": 0, "eos_token_id": 0,
    }, list(unsure)


def mamba(name, d, L):
    return name, "state-spaces/" + name + "-hf", {
        "model_type": "mamba", "architectures": ["MambaForCausalLM"], "vocab_size": 50280, "hidden_size": d,
        "intermediate_size": 2 * d, "num_hidden_layers": L, "state_size": 16, "expand": 2, "conv_kernel": 4,
        "time_step_rank": math.ceil(d / 16), "layer_norm_epsilon": 1e-5, "use_bias": False, "use_conv_bias": True,
        "residual_in_fp32": True, "hidden_act": "silu", "tie_word_embeddings": True,
        "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0,
    }, []


FIXTURES = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "models")


def from_fixture(name, repo, fixture, size, unsure=()):
    """The families added later (phi, phi3, gemma, gemma2, qwen3, bert, roberta,
    openai-gpt, mamba2, t5): the key set of the fixture's config.json (written by
    transformers 5.x, so every key the library and layerlaw read is there) with the
    public checkpoint's sizes in `size`."""
    with open(os.path.join(FIXTURES, fixture, "config.json")) as f:
        c = json.load(f)
    for k in ("transformers_version", "dtype", "_name_or_path"):
        c.pop(k, None)
    c.update(size)
    L = c.get("num_hidden_layers")
    if "layer_types" in c and L:
        if c["model_type"] == "gemma2":  # sliding on even layers, full on odd (gemma-2 configs)
            c["layer_types"] = ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(L)]
        else:
            c["layer_types"] = ["full_attention"] * L
    return name, repo, c, list(unsure)


NEW_FAMILIES = [
    from_fixture("phi-2-2.7b", "microsoft/phi-2", "phi", {
        "vocab_size": 51200, "hidden_size": 2560, "intermediate_size": 10240, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 2048,
        "rope_parameters": {"partial_rotary_factor": 0.4, "rope_theta": 10000.0, "rope_type": "default"},
        "bos_token_id": 50256, "eos_token_id": 50256}),
    from_fixture("phi-3-mini-3.8b", "microsoft/Phi-3-mini-4k-instruct", "phi3", {
        "vocab_size": 32064, "hidden_size": 3072, "intermediate_size": 8192, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 4096,
        "original_max_position_embeddings": 4096, "sliding_window": 2047, "pad_token_id": 32000,
        "bos_token_id": 1, "eos_token_id": 32000}, ["sliding_window"]),
    from_fixture("gemma-2.5b", "google/gemma-2b", "gemma", {
        "vocab_size": 256000, "hidden_size": 2048, "intermediate_size": 16384, "num_hidden_layers": 18,
        "num_attention_heads": 8, "num_key_value_heads": 1, "head_dim": 256, "max_position_embeddings": 8192}),
    from_fixture("gemma-2-2.6b", "google/gemma-2-2b", "gemma2", {
        "vocab_size": 256000, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
        "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "max_position_embeddings": 8192,
        "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0, "query_pre_attn_scalar": 256,
        "sliding_window": 4096}),
    from_fixture("qwen3-0.6b", "Qwen/Qwen3-0.6B", "qwen3", {
        "vocab_size": 151936, "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
        "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 40960,
        "tie_word_embeddings": True, "bos_token_id": 151643, "eos_token_id": 151645}),
    from_fixture("bert-base-110m", "google-bert/bert-base-uncased", "bert", {
        "vocab_size": 30522, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
        "num_attention_heads": 12, "max_position_embeddings": 512}),
    from_fixture("roberta-base-125m", "FacebookAI/roberta-base", "roberta", {
        "vocab_size": 50265, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
        "num_attention_heads": 12, "max_position_embeddings": 514}),
    from_fixture("openai-gpt-117m", "openai-community/openai-gpt", "openai-gpt", {
        "vocab_size": 40478, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 512}),
    from_fixture("mamba2-130m", "state-spaces/mamba2-130m", "mamba2", {
        "vocab_size": 50288, "hidden_size": 768, "num_hidden_layers": 24, "state_size": 128, "expand": 2,
        "head_dim": 64, "num_heads": 24, "n_groups": 1, "conv_kernel": 4, "chunk_size": 256,
        "time_step_rank": 48, "tie_word_embeddings": True}, ["chunk_size", "time_step_rank"]),
    from_fixture("t5-small-60m", "google-t5/t5-small", "t5", {
        "vocab_size": 32128, "d_model": 512, "d_ff": 2048, "d_kv": 64, "num_heads": 8, "num_layers": 6,
        "num_decoder_layers": 6, "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128}),
]

SHAPES = [
    gpt2("gpt2", "openai-community/gpt2", 768, 12, 12),
    gpt2("gpt2-medium", "openai-community/gpt2-medium", 1024, 24, 16),
    gpt2("gpt2-large", "openai-community/gpt2-large", 1280, 36, 20),
    gpt2("gpt2-xl", "openai-community/gpt2-xl", 1600, 48, 25),
    pythia("pythia-70m", 512, 6, 8, 50304),
    pythia("pythia-160m", 768, 12, 12, 50304),
    pythia("pythia-410m", 1024, 24, 16, 50304),
    pythia("pythia-1b", 2048, 16, 8, 50304),
    pythia("pythia-1.4b", 2048, 24, 16, 50304),
    pythia("pythia-2.8b", 2560, 32, 32, 50304),
    pythia("pythia-6.9b", 4096, 32, 32, 50432),
    pythia("pythia-12b", 5120, 36, 40, 50688),
    llama("llama-2-7b", "meta-llama/Llama-2-7b-hf", 4096, 32, 32, 32, 11008, 32000, 10000.0, 4096, 1e-5),
    llama("llama-2-13b", "meta-llama/Llama-2-13b-hf", 5120, 40, 40, 40, 13824, 32000, 10000.0, 4096, 1e-5),
    llama("llama-2-70b", "meta-llama/Llama-2-70b-hf", 8192, 80, 64, 8, 28672, 32000, 10000.0, 4096, 1e-5),
    llama("llama-3-8b", "meta-llama/Meta-Llama-3-8B", 4096, 32, 32, 8, 14336, 128256, 500000.0, 8192, 1e-5),
    llama("llama-3-70b", "meta-llama/Meta-Llama-3-70B", 8192, 80, 64, 8, 28672, 128256, 500000.0, 8192, 1e-5),
    mistral(),
    qwen2("qwen2-0.5b", 896, 24, 14, 2, 4864, 151936, True),
    qwen2("qwen2-1.5b", 1536, 28, 12, 2, 8960, 151936, True),
    qwen2("qwen2-7b", 3584, 28, 28, 4, 18944, 152064, False),
    rwkv("rwkv-4-169m", "RWKV/rwkv-4-169m-pile", 768, 12),
    rwkv("rwkv-4-430m", "RWKV/rwkv-4-430m-pile", 1024, 24),
    rwkv("rwkv-4-1b5", "RWKV/rwkv-4-1b5-pile", 2048, 24),
    rwkv("rwkv-4-3b", "RWKV/rwkv-4-3b-pile", 2560, 32),
    rwkv("rwkv-4-7b", "RWKV/rwkv-4-7b-pile", 4096, 32),
    rwkv("rwkv-4-14b", "RWKV/rwkv-4-14b-pile", 5120, 40),
    rwkv("rwkv-raven-1b5", "RWKV/rwkv-raven-1b5", 2048, 24, ["context_length"]),
    rwkv("rwkv-raven-3b", "RWKV/rwkv-raven-3b", 2560, 32, ["context_length"]),
    rwkv("rwkv-raven-7b", "RWKV/rwkv-raven-7b", 4096, 32, ["context_length"]),
    rwkv("rwkv-raven-14b", "RWKV/rwkv-raven-14b", 5120, 40, ["context_length"]),
    mamba("mamba-130m", 768, 24),
    mamba("mamba-370m", 1024, 48),
    mamba("mamba-790m", 1536, 48),
    mamba("mamba-1.4b", 2048, 48),
    mamba("mamba-2.8b", 2560, 64),
] + NEW_FAMILIES


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, repo, cfg, unsure in SHAPES:
        doc = {"comment": f"shape of {repo} (public config.json on the Hugging Face hub); "
                          "random weights: for throughput only (tools/make_shapes.py)"}
        if unsure:
            doc["comment_unsure"] = unsure
        doc.update(cfg)
        # one folder per shape: ll_model_synthetic reads <folder>/config.json
        os.makedirs(os.path.join(OUT, name), exist_ok=True)
        with open(os.path.join(OUT, name, "config.json"), "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    print(f"{len(SHAPES)} shapes in {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
