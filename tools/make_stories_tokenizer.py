#!/usr/bin/env python3
"""HF tokenizer.json for the embedded default model configs/stories260K-hf, and
the 200 Alice paragraphs of its published token file as raw text.

    python tools/make_stories_tokenizer.py            # writes + checks
    python tools/make_stories_tokenizer.py --check    # checks only (writes nothing)

Input: ../shared/data/checkpoints/llama2c-stories260K/tok512.bin (llama2.c
tokenizer format: uint32 max_token_length, then 512 x {float32 score, int32 len,
len bytes}; SentencePiece's "▁" stored as a plain space; id 0 <unk>,
1 "\\n<s>\\n", 2 "\\n</s>\\n", 3..258 <0x00>..<0xFF>).

Output (configs/stories260K-hf/):
  tokenizer.json         Llama-2 style, built with PyPI `tokenizers`, as
                         transformers' LlamaConverter (legacy) builds it:
                         normalizer Prepend("▁") + Replace(" ", "▁"), no
                         pre-tokenizer, BPE(byte_fallback, unk <unk>, fuse_unk),
                         merges = every (a, b) with a, b, a+b in the vocab, ranked
                         by the score of a+b (transformers' generate_merges with
                         vocab_scores), post-processor TemplateProcessing "<s> $A",
                         decoder Replace(▁→ )+ByteFallback+Fuse+Strip(1 left).
  tokenizer_config.json  bos/eos/unk, add_bos_token, model_max_length 512, and
                         tokenizer_class PreTrainedTokenizerFast (so AutoTokenizer
                         uses tokenizer.json as it is).
  alice-200.jsonl        {"text": ...} per line: the 200 paragraphs of
                         alice-200x128.tok512.jsonl, in the same order.

How the 200 paragraphs were made (found by trying the variants until all 200
id lists of alice-200x128.tok512.jsonl were reproduced by a llama2.c encoder):
Gutenberg #11 text (UTF-8, LF) split on blank lines, regex r"\\n\\s*\\n"
(a blank line may hold spaces); the lines of a paragraph joined with ONE space
each, nothing stripped inside (so "Hole\\n CHAPTER" -> "Hole  CHAPTER"); keep
paragraphs longer than 80 characters (546; the same 546 whether the length is
taken before or after the strip); strip the paragraph's ends;
numpy.random.default_rng(666).permutation(546), the first 200, in that order.
Without the final strip 198/200 match (two paragraphs start with spaces).

Checks (the script fails loudly if one does not hold):
  1. a llama2.c encoder (run.c's algorithm: dummy-prefix space, characters or
     byte fallback, then repeatedly merge the adjacent pair whose concatenation
     has the highest score, leftmost on ties) on those paragraphs gives exactly
     the 200 lines of the token file (BOS first, cut to 128);
  2. the HF tokenizer.json (enable_truncation(128), add_special_tokens=True)
     gives the same 200 lines; also untruncated, it equals llama2.c's encoding
     on every one of the 546 paragraphs;
  3. transformers' own generate_merges(vocab, vocab_scores) gives the same merge
     list, and AutoTokenizer on the folder gives the same ids (when transformers
     is importable).
"""
import argparse
import json
import os
import re
import struct
import sys

import numpy as np
from tokenizers import Tokenizer, decoders, normalizers, processors
from tokenizers.models import BPE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("LL_SHARED", os.path.join(ROOT, "..", "shared"))
TOK_BIN = os.path.join(SHARED, "data/checkpoints/llama2c-stories260K/tok512.bin")
ALICE = os.path.join(SHARED, "data/corpora/gutenberg-11-alices-adventures-in-wonderland.txt")
OUTDIR = os.path.join(ROOT, "configs/stories260K-hf")
REF_IDS = os.path.join(OUTDIR, "alice-200x128.tok512.jsonl")
VOCAB_SIZE = 512
MAX_LEN = 128


def read_llama2c_tokenizer(path, n=VOCAB_SIZE):
    b = open(path, "rb").read()
    off = 4
    pieces, scores = [], []
    for _ in range(n):
        score, ln = struct.unpack_from("<fi", b, off)
        off += 8
        pieces.append(b[off:off + ln].decode("utf-8"))
        scores.append(float(score))
        off += ln
    if off != len(b):
        raise SystemExit(f"{path}: {len(b) - off} trailing bytes (expected {n} tokens)")
    return pieces, scores


def llama2c_encode(text, pieces, scores, tid):
    """run.c's encode(text, bos=1, eos=0)."""
    ids = []
    if text:
        text = " " + text
    for ch in text:
        if ch in tid:
            ids.append(tid[ch])
        else:
            ids += [x + 3 for x in ch.encode("utf-8")]
    while True:
        best, bi = -1e10, -1
        for i in range(len(ids) - 1):
            j = tid.get(pieces[ids[i]] + pieces[ids[i + 1]])
            if j is not None and scores[j] > best:
                best, bi = scores[j], i
        if bi < 0:
            break
        ids[bi:bi + 2] = [tid[pieces[ids[bi]] + pieces[ids[bi + 1]]]]
    return [1] + ids


def generate_merges(vocab, vocab_scores):
    """transformers.tokenization_utils_base.generate_merges(vocab, vocab_scores)."""
    merges = []
    for merge, piece_score in vocab_scores.items():
        local = []
        for i in range(1, len(merge)):
            left, right = merge[:i], merge[i:]
            if left in vocab and right in vocab:
                local.append((left, right, piece_score))
        local.sort(key=lambda x: (vocab[x[0]], vocab[x[1]]))
        merges.extend(local)
    merges = sorted(merges, key=lambda v: (v[2], len(v[0]), len(v[1])), reverse=True)
    return [(a, b) for a, b, _ in merges]


def hf_vocab(pieces, scores):
    toks = ["<unk>", "<s>", "</s>"] + [p.replace(" ", "\u2581") for p in pieces[3:]]
    if len(set(toks)) != len(toks):
        raise SystemExit("duplicate pieces after the ' ' -> '▁' mapping")
    for i in range(256):
        if toks[3 + i] != f"<0x{i:02X}>":
            raise SystemExit(f"id {3 + i} is {toks[3 + i]!r}, expected <0x{i:02X}>")
    vocab = {t: i for i, t in enumerate(toks)}
    vocab_scores = {t: (0.0 if i < 3 else scores[i]) for i, t in enumerate(toks)}
    return vocab, vocab_scores


def build_tokenizer(vocab, merges):
    tok = Tokenizer(BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True,
                        byte_fallback=True, dropout=None))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                           normalizers.Replace(" ", "\u2581")])
    tok.pre_tokenizer = None
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    from tokenizers import AddedToken
    tok.add_special_tokens([AddedToken(t, normalized=False, special=True)
                            for t in ("<unk>", "<s>", "</s>")])
    return tok


def alice_paragraphs(path=ALICE):
    raw = open(path, encoding="utf-8").read()
    paras = [" ".join(p.split("\n")) for p in re.split(r"\n\s*\n", raw)]
    paras = [p.strip() for p in paras if len(p) > 80]
    perm = np.random.default_rng(666).permutation(len(paras))
    return paras, [paras[i] for i in perm[:200]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="check only, write nothing")
    args = ap.parse_args()

    pieces, scores = read_llama2c_tokenizer(TOK_BIN)
    tid = {p: i for i, p in enumerate(pieces)}
    vocab, vocab_scores = hf_vocab(pieces, scores)
    merges = generate_merges(vocab, vocab_scores)
    tok = build_tokenizer(vocab, merges)
    print(f"vocab {len(vocab)}, merges {len(merges)}")

    ref = [json.loads(line) for line in open(REF_IDS)]
    allp, sel = alice_paragraphs()
    print(f"paragraphs > 80 chars: {len(allp)}")

    # 1. llama2.c encoder on the rebuilt paragraphs vs the published ids
    l2c = [llama2c_encode(t, pieces, scores, tid) for t in sel]
    ok1 = sum(a[:MAX_LEN] == r for a, r in zip(l2c, ref))
    print(f"llama2.c encoder, cut to {MAX_LEN}: {ok1}/200 equal alice-200x128.tok512.jsonl")

    # 2. the HF tokenizer, truncated as AutoTokenizer(truncation=True, max_length=128)
    tok.enable_truncation(MAX_LEN)
    hf = [e.ids for e in tok.encode_batch(sel, add_special_tokens=True)]
    ok2 = sum(a == r for a, r in zip(hf, ref))
    print(f"HF tokenizer.json, max_length {MAX_LEN}: {ok2}/200 equal alice-200x128.tok512.jsonl")
    tok.no_truncation()
    full_hf = [e.ids for e in tok.encode_batch(allp, add_special_tokens=True)]
    full_l2c = [llama2c_encode(t, pieces, scores, tid) for t in allp]
    ok3 = sum(a == b for a, b in zip(full_hf, full_l2c))
    print(f"HF vs llama2.c, untruncated, all {len(allp)} paragraphs: {ok3} equal")
    for i, (a, b) in enumerate(zip(full_hf, full_l2c)):
        if a != b:
            k = next(j for j in range(min(len(a), len(b)) + 1) if j >= min(len(a), len(b)) or a[j] != b[j])
            print(f"  paragraph {i} differs at id {k}: HF {a[k:k + 6]} llama2.c {b[k:k + 6]}")
            break
    bad = ok1 != 200 or ok2 != 200 or ok3 != len(allp)

    # 3. transformers' generate_merges, and (after writing) AutoTokenizer
    try:
        from transformers.tokenization_utils_base import generate_merges as tf_gm
        same = [tuple(m) for m in tf_gm(vocab, vocab_scores)] == merges
        print(f"transformers generate_merges(vocab, vocab_scores): {'same' if same else 'DIFFERENT'} merges")
        bad |= not same
    except ImportError:
        print("transformers not importable: generate_merges cross-check skipped")

    if bad:
        raise SystemExit("FAILED: not written")
    if args.check:
        return

    os.makedirs(OUTDIR, exist_ok=True)
    tok.save(os.path.join(OUTDIR, "tokenizer.json"), pretty=True)
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "add_bos_token": True, "add_eos_token": False, "legacy": True,
        "model_max_length": 512, "clean_up_tokenization_spaces": False,
    }
    with open(os.path.join(OUTDIR, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUTDIR, "alice-200.jsonl"), "w", encoding="utf-8") as f:
        for t in sel:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")

    # reload what was written
    t2 = Tokenizer.from_file(os.path.join(OUTDIR, "tokenizer.json"))
    t2.enable_truncation(MAX_LEN)
    texts = [json.loads(line)["text"] for line in open(os.path.join(OUTDIR, "alice-200.jsonl"), encoding="utf-8")]
    ok4 = sum(e.ids == r for e, r in zip(t2.encode_batch(texts), ref))
    print(f"written tokenizer.json + alice-200.jsonl reloaded: {ok4}/200 equal")
    try:
        from transformers import AutoTokenizer
        at = AutoTokenizer.from_pretrained(OUTDIR)
        ids = at(texts, truncation=True, max_length=MAX_LEN)["input_ids"]
        ok5 = sum(list(a) == r for a, r in zip(ids, ref))
        print(f"transformers AutoTokenizer ({type(at).__name__}): {ok5}/200 equal")
        ok4 = min(ok4, ok5)
    except ImportError:
        print("transformers not importable: AutoTokenizer check skipped")
    if ok4 != 200:
        raise SystemExit("FAILED after writing")


if __name__ == "__main__":
    main()
