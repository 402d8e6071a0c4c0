#!/usr/bin/env python3
"""Build the GGUF fixtures under tests/fixtures/gguf/ with PyPI `gguf` (the
llama.cpp project's own Python package: GGUFWriter, gguf.quants) as the oracle.

  quants.gguf        one tensor per ggml type, named by the type (F32, F16,
                     BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
                     Q5_K, Q6_K), numpy shape (4, 512) = ggml ne [512, 4].
                     Types gguf.quants can quantise are quantised from N(0, 1)
                     data; the K-quants (dequantise-only in gguf.quants) are
                     random block bytes with finite fp16 scales.
  quant_<T>.npy      gguf.quants.dequantize of that tensor, float32 (4, 512).
  meta.gguf          every metadata value type (scalars, strings, arrays,
                     nested arrays), general.alignment = 64, tensors
                     a (F32, numpy shape (2, 3, 5) = arange), b (F16, (7,)).
  llama_gqa.gguf     tests/fixtures/models/llama_gqa as llama.cpp's converter
  qwen2.gguf, gpt2.gguf  writes it (gpt2: Conv1D weights transposed, output = token_embd): GGUF names (gguf.get_tensor_name_map), F32,
                     attn_q / attn_k rows permuted for llama (the converter's
                     permute(w, n_head, n_head_kv)), <arch>.* hyperparameters.
  tok_smollm.gguf    a consistent sub-vocabulary of SmolLM2's tokenizer (the 17
                     special tokens, the 256 byte tokens and the first 3000
                     merges with their results, renumbered), pre 'smollm'.
  tok_mistral.gguf   Mistral-7B's SentencePiece vocabulary (tokenizer.ggml.model
                     llama: pieces, scores, types; no merges), from
                     ../shared/data/tokenizers/mistral-7b-v0.1/tokenizer.model;
  tok_mistral.json   the ids its HF tokenizer.json gives (PyPI tokenizers).
  tests/fuzz/corpus/fuzz_gguf/   seeds for tests/fuzz/fuzz_gguf.c (meta.gguf, a
                     tiny llama with a Q8_0 embedding and a byte-level tokenizer,
                     a tiny SentencePiece tokenizer).
  tok_smollm.json    texts and the ids PyPI `tokenizers` gives for them with
                     the original SmolLM tokenizer's pipeline: BPE on that
                     vocabulary, pre-tokenizer Sequence[Digits(individual_digits),
                     ByteLevel(add_prefix_space=False)], special tokens added.

Usage: tools/make_gguf_fixtures.py [SmolLM2-135M-Instruct.Q4_1.gguf]
(the tokenizer fixture needs the SmolLM2 file: scripts/fetch-smollm2.sh).
"""
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT
from gguf.quants import quantize, dequantize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "gguf")

# bytes per block and offsets of the fp16 scale fields in each block
K_SCALES = {QT.Q2_K: (84, [80, 82]), QT.Q3_K: (110, [108]), QT.Q4_K: (144, [0, 2]),
            QT.Q5_K: (176, [0, 2]), QT.Q6_K: (210, [208])}


def make_quants(rng):
    w = gguf.GGUFWriter(os.path.join(OUT, "quants.gguf"), "quanttest")
    rows, cols = 4, 512
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    for t in [QT.F32, QT.F16, QT.BF16, QT.Q8_0, QT.Q4_0, QT.Q4_1, QT.Q5_0, QT.Q5_1,
              QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K]:
        if t in K_SCALES:
            bb, offs = K_SCALES[t]
            nblk = rows * cols // 256
            blocks = rng.integers(0, 256, size=(nblk, bb), dtype=np.uint8)
            for b in range(nblk):
                for o in offs:
                    v = np.float16(rng.uniform(0.01, 0.2) * (1 if rng.random() < 0.8 else -1))
                    blocks[b, o:o + 2] = np.frombuffer(v.tobytes(), dtype=np.uint8)
            q = blocks.reshape(rows, -1)
        elif t == QT.F32:
            q = x.copy()
        elif t == QT.F16:
            q = x.astype(np.float16)
        else:
            q = quantize(x, t)
        if t in (QT.F32, QT.F16):
            w.add_tensor(t.name, q)
        else:
            w.add_tensor(t.name, q, raw_dtype=t)
        ref = dequantize(q, t) if t not in (QT.F32, QT.F16) else q.astype(np.float32)
        np.save(os.path.join(OUT, f"quant_{t.name}.npy"), np.asarray(ref, dtype=np.float32).reshape(rows, cols))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def make_meta():
    w = gguf.GGUFWriter(os.path.join(OUT, "meta.gguf"), "metatest")
    GV = gguf.GGUFValueType
    w.add_custom_alignment(64)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 0.1)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo wörld")
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 3.141592653589793)
    w.add_array("t.arr_i32", [1, -2, 3])
    w.add_array("t.arr_str", ["a", "", "ccc"])
    w.add_key_value("t.nested", [[1, 2], [3], [4, 5, 6]], GV.ARRAY, sub_type=GV.ARRAY)
    w.add_tensor("a", np.arange(30, dtype=np.float32).reshape(2, 3, 5))
    w.add_tensor("b", (np.arange(7, dtype=np.float32) / 4 - 1).astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def permute(w, n_head, n_head_kv):
    # llama.cpp convert_hf_to_gguf LlamaModel.permute (re-implemented from its definition)
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def make_gpt2(name):
    """GPT-2 as llama.cpp's converter writes it: GGUF names, the Conv1D weights
    (c_attn, c_proj, c_fc) transposed to [out, in], output.weight = a copy of
    token_embd, attn.bias buffers dropped."""
    from safetensors.numpy import load_file
    src = os.path.join(ROOT, "tests", "fixtures", "models", name)
    cfg = json.load(open(os.path.join(src, "config.json")))
    sd = load_file(os.path.join(src, "model.safetensors"))
    L = cfg["n_layer"]
    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GPT2, L)
    w = gguf.GGUFWriter(os.path.join(OUT, f"{name}.gguf"), "gpt2")
    w.add_block_count(L)
    w.add_context_length(cfg["n_ctx"] if "n_ctx" in cfg else cfg["n_positions"])
    w.add_embedding_length(cfg["n_embd"])
    w.add_feed_forward_length(cfg.get("n_inner") or 4 * cfg["n_embd"])
    w.add_head_count(cfg["n_head"])
    w.add_layer_norm_eps(cfg["layer_norm_epsilon"])
    for k in sorted(sd):
        if k.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        v = sd[k].astype(np.float32)
        base = k[len("transformer."):] if k.startswith("transformer.") else k
        new = tmap.get_name(base, try_suffixes=(".weight", ".bias"))
        assert new, k
        if base.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            v = v.T
        w.add_tensor(new, np.ascontiguousarray(v))
        if new == "token_embd.weight":
            w.add_tensor("output.weight", np.ascontiguousarray(v))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def make_model(name, arch):
    from safetensors.numpy import load_file
    src = os.path.join(ROOT, "tests", "fixtures", "models", name)
    cfg = json.load(open(os.path.join(src, "config.json")))
    sd = load_file(os.path.join(src, "model.safetensors"))
    L = cfg["num_hidden_layers"]
    march = {"llama": gguf.MODEL_ARCH.LLAMA, "qwen2": gguf.MODEL_ARCH.QWEN2}[arch]
    tmap = gguf.get_tensor_name_map(march, L)
    w = gguf.GGUFWriter(os.path.join(OUT, f"{name}.gguf"), arch)
    nh, nkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    w.add_block_count(L)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(nh)
    w.add_head_count_kv(nkv)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    rp = cfg.get("rope_parameters") or {}
    w.add_rope_freq_base(rp.get("rope_theta", cfg.get("rope_theta", 10000.0)))
    hd = cfg.get("head_dim") or cfg["hidden_size"] // nh
    w.add_rope_dimension_count(hd)
    w.add_vocab_size(cfg["vocab_size"])
    for k in sorted(sd):
        v = sd[k].astype(np.float32)
        new = tmap.get_name(k, try_suffixes=(".weight", ".bias"))
        assert new, k
        if arch == "llama" and k.endswith(("q_proj.weight", "q_proj.bias")):
            v = permute(v, nh, nh)
        if arch == "llama" and k.endswith(("k_proj.weight", "k_proj.bias")):
            v = permute(v, nh, nkv)
        w.add_tensor(new, np.ascontiguousarray(v))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


TOK_TEXTS = [
    "Hello world",
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.",
    "In 1813, 12345 copies cost $3.50 each; that's 43,210.75 in total!",
    "I'll say: they've gone, we'd stay, you're right, it's 'quoted'.",
    "  leading spaces,\ttabs\tand\n\nnew lines   \n end",
    "Unicode: café naïve Ωμέγα 日本語 🙂 ½ ²",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>",
    "",
]


def make_tokenizer(smol):
    from tokenizers import Tokenizer, AddedToken, models, pre_tokenizers
    r = gguf.GGUFReader(smol)

    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    toks = strings("tokenizer.ggml.tokens")
    merges = strings("tokenizer.ggml.merges")
    tt = r.fields["tokenizer.ggml.token_type"]
    types = [int(tt.parts[i][0]) for i in tt.data]
    K = 3000
    keep = set(range(273))
    index = {t: i for i, t in enumerate(toks)}
    for m in merges[:K]:
        keep.add(index[m.replace(" ", "")])
    ids = sorted(keep)
    sub = [toks[i] for i in ids]
    subtypes = [types[i] for i in ids]
    vocab = {t: i for i, t in enumerate(sub)}
    for m in merges[:K]:
        a, b = m.split(" ")
        assert a in vocab and b in vocab and a + b in vocab, m
    w = gguf.GGUFWriter(os.path.join(OUT, "tok_smollm.gguf"), "llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(sub)
    w.add_token_types(subtypes)
    w.add_token_merges(merges[:K])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tk = oracle_tokenizer(vocab, merges[:K], [t for t, ty in zip(sub, subtypes) if ty == 3])
    exp = {"texts": TOK_TEXTS, "ids": [tk.encode(t).ids for t in TOK_TEXTS]}
    json.dump(exp, open(os.path.join(OUT, "tok_smollm.json"), "w"), ensure_ascii=False, indent=1)


def oracle_tokenizer(vocab, merges, specials):
    """The original SmolLM tokenizer pipeline on a vocabulary (HF tokenizers)."""
    from tokenizers import Tokenizer, AddedToken, models, pre_tokenizers
    bpe = models.BPE(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges])
    tk = Tokenizer(bpe)
    tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tk.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tk


def make_spm_tokenizer():
    """tok_mistral.gguf: Mistral-7B's SentencePiece vocabulary as llama.cpp's
    converter writes it (pieces, scores, token types from sentencepiece; no
    merges), and tok_mistral.json: the ids Mistral's own HF tokenizer.json gives
    (PyPI tokenizers, add_special_tokens=True)."""
    import sentencepiece as spm
    from tokenizers import Tokenizer
    src = os.path.join(ROOT, "..", "shared", "data", "tokenizers", "mistral-7b-v0.1")
    sp = spm.SentencePieceProcessor(model_file=os.path.join(src, "tokenizer.model"))
    toks, scores, types = [], [], []
    for i in range(sp.vocab_size()):
        toks.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        ty = 1
        if sp.is_unknown(i): ty = 2
        elif sp.is_control(i): ty = 3
        elif sp.is_unused(i): ty = 5
        elif sp.is_byte(i): ty = 6
        types.append(ty)
    w = gguf.GGUFWriter(os.path.join(OUT, "tok_mistral.gguf"), "llama")
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tk = Tokenizer.from_file(os.path.join(src, "tokenizer.json"))
    texts = TOK_TEXTS + ["  two leading spaces", "tabs\tand ünïcödé ζ 𝔘 \U0001F600 byte fallback", " x"]
    exp = {"texts": texts, "ids": [tk.encode(t).ids for t in texts]}
    json.dump(exp, open(os.path.join(OUT, "tok_mistral.json"), "w"), ensure_ascii=False, indent=1)


def make_fuzz_seeds():
    """Small seeds for tests/fuzz/fuzz_gguf.c: a tiny llama with q/k to permute,
    a quantised tensor and a byte-level tokenizer."""
    d = os.path.join(ROOT, "tests", "fuzz", "corpus", "fuzz_gguf")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(7)
    w = gguf.GGUFWriter(os.path.join(d, "tiny_llama.gguf"), "llama")
    w.add_block_count(1)
    w.add_context_length(16)
    w.add_embedding_length(32)
    w.add_feed_forward_length(32)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    byte_tokens = ["a", "b", "c", "1", "2", "\u0120", "ab", "\u0120a"]
    w.add_token_list(["<s>"] + byte_tokens)
    w.add_token_types([3] + [1] * len(byte_tokens))
    w.add_token_merges(["a b", "\u0120 a"])
    w.add_add_bos_token(True)
    w.add_bos_token_id(0)
    w.add_tensor("token_embd.weight", quantize(rng.standard_normal((9, 32)).astype(np.float32), QT.Q8_0),
                 raw_dtype=QT.Q8_0)
    w.add_tensor("blk.0.attn_q.weight", rng.standard_normal((32, 32)).astype(np.float16))
    w.add_tensor("blk.0.attn_k.weight", rng.standard_normal((16, 32)).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    w = gguf.GGUFWriter(os.path.join(d, "tiny_spm.gguf"), "llama")
    w.add_tokenizer_model("llama")
    pieces = ["<unk>", "<s>", "</s>", "<0x41>", "\u2581", "a", "b", "\u2581a", "ab", "\u2581ab", "1"]
    w.add_token_list(pieces)
    w.add_token_scores([0.0, 0.0, 0.0, 0.0, -1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0])
    w.add_token_types([2, 3, 3, 6, 1, 1, 1, 1, 1, 1, 1])
    w.add_bos_token_id(1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    import shutil
    shutil.copy(os.path.join(OUT, "meta.gguf"), os.path.join(d, "meta.gguf"))


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(1342)
    make_quants(rng)
    make_meta()
    make_model("llama_gqa", "llama")
    make_model("qwen2", "qwen2")
    make_gpt2("gpt2")
    make_fuzz_seeds()
    make_spm_tokenizer()
    if len(sys.argv) > 1:
        make_tokenizer(sys.argv[1])
    else:
        print("no SmolLM2 GGUF given: tok_smollm.* not rebuilt", file=sys.stderr)


if __name__ == "__main__":
    main()
