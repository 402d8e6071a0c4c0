#!/usr/bin/env python3
"""Writes the libFuzzer seed corpora (tests/fuzz/corpus/<harness>/) with the
reference libraries: numpy (.npy), safetensors (.safetensors), torch.save
(PyTorch zips and their data.pkl), gzip/json (corpora), plus small copies of
the project's own fixtures (configs, tokenizer.json).  Seeds are small (libFuzzer
mutates best under a few KB).  Run from the repository root:
    python3 tools/make_fuzz_seeds.py
Pinned versions: tools/requirements.txt."""
import gzip, io, json, os, shutil, zipfile

import numpy as np
import torch
from safetensors.numpy import save as st_save

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(h, name, data):
    d = os.path.join(OUT, h)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def npy_bytes(a, **kw):
    b = io.BytesIO()
    np.save(b, a, **kw)
    return b.getvalue()


def torch_bytes(obj):
    b = io.BytesIO()
    torch.save(obj, b)
    return b.getvalue()


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    # ---- npy
    put("fuzz_npy", "f32_2x3.npy", npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3)))
    put("fuzz_npy", "f16_3d.npy", npy_bytes(np.ones((2, 2, 3), dtype="<f2")))
    put("fuzz_npy", "f64_scalar.npy", npy_bytes(np.float64(3.5)))
    put("fuzz_npy", "i64_empty.npy", npy_bytes(np.zeros((0, 4), dtype="<i8")))
    put("fuzz_npy", "i32_vec.npy", npy_bytes(np.arange(5, dtype="<i4")))
    put("fuzz_npy", "fortran.npy", npy_bytes(np.asfortranarray(np.ones((2, 3), dtype="<f4"))))
    b = io.BytesIO()
    np.lib.format.write_array(b, np.arange(4, dtype="<f4"), version=(2, 0))
    put("fuzz_npy", "v2.npy", b.getvalue())
    # ---- safetensors
    put("fuzz_safetensors", "mixed.safetensors", st_save({
        "a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(3, dtype=np.float16),
        "c": np.arange(2, dtype=np.int64), "d": np.zeros((0, 2), dtype=np.float32), "e": np.array(2.0, dtype=np.float64)},
        metadata={"format": "pt"}))
    put("fuzz_safetensors", "one.safetensors", st_save({"w": np.ones((4, 4), dtype=np.float32)}))
    put("fuzz_safetensors", "empty.safetensors", st_save({}))
    # ---- PyTorch zips (fuzz_zip) and their pickles (fuzz_pickle: storages '0' = 16 floats, '1' = 2 doubles)
    m = torch.arange(16, dtype=torch.float32).reshape(4, 4)
    sd_pickle = {"a": m, "b": torch.tensor([1.5, -2.5], dtype=torch.float64), "at": m.t(), "row": m[1], "col": m[:, 2]}
    zips = {
        "pickle_pair.bin": sd_pickle,
        "dtypes.bin": {"f16": torch.ones(3, dtype=torch.float16), "bf16": torch.ones(2, dtype=torch.bfloat16),
                       "i64": torch.arange(3), "i8": torch.tensor([1, -1], dtype=torch.int8),
                       "bool": torch.tensor([True, False]), "u8": torch.tensor([7], dtype=torch.uint8)},
        "param.bin": torch.nn.Linear(3, 2).state_dict(),
        "ordered.bin": torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LayerNorm(2)).state_dict(),
    }
    for name, obj in zips.items():
        data = torch_bytes(obj)
        put("fuzz_zip", name, data)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            pk = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
            if name == "pickle_pair.bin":
                put("fuzz_pickle", "pair.pkl", z.read(pk))
    # a deflated entry (torch writes stored ones): the same archive recompressed
    with zipfile.ZipFile(io.BytesIO(torch_bytes({"w": torch.zeros(64)}))) as z, io.BytesIO() as out:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as w:
            for n in z.namelist():
                w.writestr(n, z.read(n))
        put("fuzz_zip", "deflated.bin", out.getvalue())
    put("fuzz_pickle", "empty_dict.pkl", b"\x80\x02}q\x00.")
    # ---- config.json: the project's model fixtures (loaded against stories260K's weights)
    for fam in sorted(os.listdir(os.path.join(ROOT, "tests", "fixtures", "models"))):
        p = os.path.join(ROOT, "tests", "fixtures", "models", fam, "config.json")
        if os.path.exists(p):
            put("fuzz_config", fam + ".json", open(p, "rb").read())
    put("fuzz_config", "stories260K.json", open(os.path.join(ROOT, "tests", "data", "checkpoints", "stories260K-hf", "config.json"), "rb").read())
    # ---- tokenizer.json: the small fixtures, and a tiny BPE with text
    for n in ["llama2-style.json", "metaspace-split.json", "split-variants.json"]:
        put("fuzz_tokenizer", n, open(os.path.join(ROOT, "tests", "fixtures", "tokenizers", n), "rb").read())
    tiny = {"version": "1.0", "added_tokens": [{"id": 5, "content": "<s>", "special": True, "normalized": False,
                                                "lstrip": False, "rstrip": False, "single_word": False}],
            "normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
            "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                        {"Sequence": {"id": "A", "type_id": 0}}],
                               "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [5], "tokens": ["<s>"]}}},
            "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3, "\u0120a": 4}, "merges": ["a b", "\u0120 a"]}}
    put("fuzz_tokenizer", "tiny.json", json.dumps(tiny) + "\n#TEXT#\nab a <s>ab")
    # ---- encode: first byte = tokenizer / special / max_length
    texts = ["Hello world", "  leading spaces\tand\ttabs\n", "caf\u00e9 na\u00efve \u4e2d\u6587 \U0001F600",
             "<|endoftext|> <s> </s>", "x" * 200, "1234567890 ,.;:!?", "\u0000\u00ff\u2028 end"]
    for i, t in enumerate(texts):
        put("fuzz_encode", f"t{i}", bytes([i]) + t.encode("utf-8", "surrogatepass"))
    put("fuzz_encode", "badutf8", bytes([1]) + b"ab\xff\xfe\xc3(\xe2\x82 end")
    # ---- token files
    put("fuzz_tokens", "basic", "\x00[1, 2, 3]\n[]\n\n[4,5]\r\n")
    put("fuzz_tokens", "cut", "\x03[10, 20, 30, 40, 50]\n[2147483647]\n")
    put("fuzz_tokens", "alice", b"\x00" + b"".join(open(os.path.join(ROOT, "tests", "data", "checkpoints", "stories260K-hf",
                                                                      "alice-200x128.tok512.jsonl"), "rb").readlines()[:3]))
    # ---- corpora: first byte = split (line/paragraph/file/jsonl) + sampling + field
    lines = "First line\r\nsecond line\n\n  \nthird, after blanks\nlast without newline"
    put("fuzz_corpus", "line.txt", bytes([0]) + lines.encode())
    put("fuzz_corpus", "para.txt", bytes([1]) + lines.encode())
    put("fuzz_corpus", "file.txt", bytes([2]) + lines.encode())
    jl = '{"text": "Alice\\u0000 was here"}\n{"text": "caf\\u00e9 \\ud83d\\ude00", "id": [1, {"x": "}"}]}\n\n{"text": ""}\n'
    put("fuzz_corpus", "a.jsonl", bytes([3]) + jl.encode())
    put("fuzz_corpus", "field.jsonl", bytes([3 | 8]) + b'{"t": "tab\\there", "text": 1}\n')
    put("fuzz_corpus", "sampled.txt", bytes([0 | 4 | 16]) + lines.encode())
    put("fuzz_corpus", "line.txt.gz", bytes([0]) + gzip.compress(lines.encode(), mtime=0))
    put("fuzz_corpus", "a.jsonl.gz", bytes([3]) + gzip.compress(jl.encode(), mtime=0))


if __name__ == "__main__":
    main()
