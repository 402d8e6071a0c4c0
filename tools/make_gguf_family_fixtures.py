#!/usr/bin/env python3
"""GGUF fixtures written by llama.cpp's OWN converter from the HF fixtures
(tests/fixtures/models/<name>) -> tests/fixtures/gguf/conv_<name>.<type>.gguf.

The converter is not part of this repository (another project's code is never
committed here).  It is llama.cpp's convert_hf_to_gguf.py (+ its conversion/
package and its gguf-py) at ggml-org/llama.cpp@0c1e57098, as vendored in the
PyPI sdist llama-cpp-python 0.3.36 (sha256 832db069...c1a2e):

    pip download llama-cpp-python==0.3.36 --no-deps --no-binary :all: -d /tmp/lcp
    tar xzf /tmp/lcp/llama_cpp_python-0.3.36.tar.gz -C /tmp/lcp
    python3 tools/make_gguf_family_fixtures.py /tmp/lcp/llama_cpp_python-0.3.36/vendor/llama.cpp [NAME ...]

It is run unmodified (its main(), its model classes, its tensor maps and
reorders, its gguf-py writer) with two shims in the driver below: the
fixtures have no tokenizer files, so every model class's set_vocab is
replaced by a no-op (the files carry no tokenizer.ggml.* metadata; layerlaw
reads the vocabulary size from token_embd and the tests feed token ids); and
gpt_neox's rotary_pct, which transformers 5.24's AutoConfig.to_dict() no
longer has (it is rope_parameters.partial_rotary_factor there) while this
converter reads it, is added to the hparams it loads.  Each fixture is written as F32
and as Q8_0 (--outtype f32 / q8_0: the converter quantises the 2-D weights
whose rows are a multiple of 32, and keeps the rest F32/F16 as it decides).

The Q8_0 file's reference (conv_<name>.q8_0.hidden.npy, HF float32 per
sequence) is HF's model on THE SAME weights: every tensor the converter wrote
as Q8_0 (read from the file's tensor types, named through gguf-py's tensor map)
is replaced by gguf.quants.dequantize(gguf.quants.quantize(w, Q8_0)), and every
tensor it wrote as F16 (its fallback when a row is not a multiple of 32) by w
rounded to float16 — Q8_0
blocks run along rows, so the converter's row reorders (llama's q/k
permutation, gpt_neox's q|k|v regrouping) give the same blocks.  Written after
the conversion, or alone with --reference-only (no converter needed).

Checked by tests/test_gguf_families.c: layerlaw's hidden states from each F32
file equal HF's hidden.npy of the same fixture, and from each Q8_0 file HF's
states on the dequantised weights, both within 1e-5 of scale.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "models")
OUT = os.path.join(ROOT, "tests", "fixtures", "gguf")

# fixture -> the llama.cpp architecture its converter writes (for the record)
FIXTURES = {
    "llama_mlp_bias": "llama",      # attention_bias + mlp_bias (issue 25)
    "llama3_scaling": "llama",      # Llama-3.1 rope scaling: rope_freqs.weight
    "neox_parallel": "gptneox",
    "neox_sequential": "gptneox",
    "phi": "phi2",
    "phi3": "phi3",
    "phi3_longrope": "phi3",        # rope_factors_long/short tensors + original context length
    "gemma": "gemma",
    "gemma2_qpas_hd": "gemma2",     # query_pre_attn_scalar = head_dim (not in the file; llama.cpp assumes it)
    "qwen3": "qwen3",
    "mamba": "mamba",
    "mamba2": "mamba2",
    "bert": "bert",
    "roberta": "bert",              # the converter cuts the position table by pad + 1: read as bert
    "t5_gated_maxd128": "t5",       # max distance 128 (not in the file; llama.cpp hard-wires it)
}
TYPES = ("f32", "q8_0")


def hub_form(name, cfg):
    """The converter reads the hub's config keys; the fixtures are written by
    transformers 5.24 in its own form.  Same meaning, hub spelling (only in
    the temporary copy the converter reads):
      gpt_neox: rotary_pct / rotary_emb_base (v5 keeps them in rope_parameters);
      t5: architectures T5ForConditionalGeneration (the fixture saved the base
          T5Model, which the converter does not register)."""
    rp = cfg.get("rope_parameters") or {}
    if cfg.get("model_type") == "gpt_neox":
        cfg.setdefault("rotary_pct", rp.get("partial_rotary_factor", 1.0))
        cfg.setdefault("rotary_emb_base", rp.get("rope_theta", 10000))
    if cfg.get("model_type") == "t5":
        cfg["architectures"] = ["T5ForConditionalGeneration"]
    return cfg

DRIVER = r'''
import sys
sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[1] + "/gguf-py")
import convert_hf_to_gguf as conv
_get = conv.get_model_class
def get_model_class(*a, **k):
    cls = _get(*a, **k)
    for c in cls.__mro__:
        if "set_vocab" in c.__dict__:
            c.set_vocab = lambda self: None   # the fixtures have no tokenizer files
    return cls
conv.get_model_class = get_model_class
# transformers 5 keeps gpt_neox's rotary_pct in rope_parameters (partial_rotary_factor);
# this converter reads hparams["rotary_pct"] from AutoConfig.to_dict(): give it the hub key
_load = conv.ModelBase.load_hparams
def load_hparams(*a, **k):
    h = _load(*a, **k)
    rp = h.get("rope_parameters") or {}
    if h.get("model_type") == "gpt_neox" and "rotary_pct" not in h:
        h["rotary_pct"] = rp.get("partial_rotary_factor", 1.0)
    return h
conv.ModelBase.load_hparams = staticmethod(load_hparams)
sys.argv = ["convert_hf_to_gguf.py"] + sys.argv[2:]
conv.main()
'''


def q8_reference(name):
    """HF's hidden states (per sequence) on the weights the Q8_0 file holds."""
    import json as _json
    import numpy as np
    import torch
    import transformers
    import gguf
    from safetensors.numpy import load_file, save_file
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from make_model_fixtures_paper import run_hidden
    src = os.path.join(FIX, name)
    r = gguf.GGUFReader(os.path.join(OUT, f"conv_{name}.q8_0.gguf"))
    arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
    tmap = gguf.get_tensor_name_map({v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}[arch], 64)
    types = {t.name: t.tensor_type for t in r.tensors}
    sd = load_file(os.path.join(src, "model.safetensors"))
    n_q = 0
    for k in list(sd):
        g = tmap.get_name(k, try_suffixes=(".weight", ".bias"))
        ty = types.get(g) if g is not None else None
        w = sd[k].astype(np.float32)
        if ty == gguf.GGMLQuantizationType.Q8_0:
            sd[k] = gguf.quants.dequantize(gguf.quants.quantize(w, gguf.GGMLQuantizationType.Q8_0),
                                           gguf.GGMLQuantizationType.Q8_0).reshape(w.shape).astype(np.float32)
            n_q += 1
        elif ty == gguf.GGMLQuantizationType.F16:  # the converter's fallback for rows not a multiple of 32
            sd[k] = w.astype(np.float16).astype(np.float32)
        elif ty not in (None, gguf.GGMLQuantizationType.F32):
            raise SystemExit(f"{name}: {k} stored as {ty.name}: not modelled here")
    assert n_q > 0, name
    exp = _json.load(open(os.path.join(src, "expected.json")))
    seqs = [_json.loads(line) for line in open(os.path.join(src, "tokens.jsonl"))]
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(src, "config.json"), tmp)
        save_file(sd, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        model = transformers.AutoModel.from_pretrained(tmp, dtype=torch.float32).eval()
        t5 = model.config.model_type == "t5"
        _, single = run_hidden(model, seqs, exp.get("pad_id", 0), t5)
    out = os.path.join(OUT, f"conv_{name}.q8_0.hidden.npy")
    np.save(out, single.astype(np.float32))
    print(f"{out}: {n_q} tensors as Q8_0, {single.shape}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--reference-only":
        for name in sys.argv[2:] or list(FIXTURES):
            q8_reference(name)
        return
    if len(sys.argv) < 2 or not os.path.isfile(os.path.join(sys.argv[1], "convert_hf_to_gguf.py")):
        sys.exit(__doc__)
    llama = os.path.abspath(sys.argv[1])
    names = sys.argv[2:] or list(FIXTURES)
    with tempfile.TemporaryDirectory() as tmp:
        drv = os.path.join(tmp, "driver.py")
        with open(drv, "w") as f:
            f.write(DRIVER)
        for name in names:
            # the converter reads config.json + model.safetensors only
            src = os.path.join(tmp, name)
            os.makedirs(src)
            shutil.copy(os.path.join(FIX, name, "model.safetensors"), src)
            with open(os.path.join(FIX, name, "config.json")) as f:
                cfg = hub_form(name, json.load(f))
            with open(os.path.join(src, "config.json"), "w") as f:
                json.dump(cfg, f, indent=2)
            for ty in TYPES:
                out = os.path.join(OUT, f"conv_{name}.{ty}.gguf")
                subprocess.run([sys.executable, drv, llama, src, "--outfile", out, "--outtype", ty], check=True)
                print(f"{out}: {os.path.getsize(out)} bytes")
            q8_reference(name)


if __name__ == "__main__":
    main()
