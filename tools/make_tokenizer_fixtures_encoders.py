#!/usr/bin/env python3
"""Expected ids for the encoder tokenizers (WordPiece for BERT, Unigram for T5,
byte-level BPE + RobertaProcessing for RoBERTa), from PyPI `tokenizers`
(0.23.3), in the same manifest format as tools/make_tokenizer_fixtures.py
(whose helpers — corpora, document splitting, stress strings — are imported).
No model hub is reachable, so every tokenizer is trained here with the
library's own trainers on Alice + WikiText-2 and given the pipeline the hub's
tokenizer.json files use:

  bert-uncased   WordPiece (WordPieceTrainer, 1500), BertNormalizer (lowercase,
                 strip_accents null -> follows lowercase, clean_text, CJK),
                 BertPreTokenizer, BertProcessing [CLS] $A [SEP]   (bert-base-uncased)
  bert-cased     same vocab trainer on cased text, BertNormalizer lowercase false,
                 TemplateProcessing [CLS] $A [SEP], max_input_chars_per_word 12
                 (long words become [UNK])                         (bert-base-cased)
  t5-style       Unigram (UnigramTrainer, 1000, unk <unk>), normalizer NFKC +
                 Replace(" {2,}" -> " ") standing in for T5's Precompiled charsmap
                 (see docs/tokenizer.md), pre-tokenizer Sequence[WhitespaceSplit,
                 Metaspace(add_prefix_space true)], TemplateProcessing $A </s>
  unigram-bytes  Unigram with byte_fallback (<0x00>..<0xFF> pieces), small
                 alphabet so that rare characters fall back to bytes, Strip +
                 Lowercase normalizer, Metaspace prepend_scheme first
  t5-precompiled the hub's T5 layout with a REAL SentencePiece charsmap: a Unigram
                 model trained by PyPI `sentencepiece` (0.2.3, nmt_nfkc rules, Alice),
                 its precompiled_charsmap read from the .model protobuf, normalizer
                 Precompiled, WhitespaceSplit + Metaspace, $A </s>
  roberta-style  byte-level BPE (ByteLevel add_prefix_space false), RobertaProcessing
                 <s> $A </s>, <mask> added with lstrip             (roberta-base)

Writes tests/fixtures/tokenizers/encoders/: <name>.json, manifest.tsv,
<name>__<source>[-ml<N>][-nospecial].ids.gz.  The stress strings are the
shared fixture tests/fixtures/tokenizers/stress.bin.

Run from anywhere:  python3 tools/make_tokenizer_fixtures_encoders.py
"""
import gzip
import json
import os
import sys

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tokenizer_fixtures as base  # noqa: E402

OUT = os.path.join(base.OUT, "encoders")


def make_bert(path, lowercase):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tr = trainers.WordPieceTrainer(vocab_size=1500, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                   limit_alphabet=300, show_progress=False)
    tok.train(base.train_files(), tr)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    if lowercase:
        tok.post_processor = processors.BertProcessing(("[SEP]", sep), ("[CLS]", cls))
    else:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    d = json.loads(tok.to_str())
    if not lowercase:
        d["model"]["max_input_chars_per_word"] = 12
    json.dump(d, open(path, "w"), ensure_ascii=False)


def make_t5_style(path):
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")])
    tr = trainers.UnigramTrainer(vocab_size=1000, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>",
                                 show_progress=False)
    tok.train(base.train_files(), tr)
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", eos)])
    d = json.loads(tok.to_str())
    # the hub's T5 files use the older Metaspace form
    for p in d["pre_tokenizer"]["pretokenizers"]:
        if p["type"] == "Metaspace":
            p.pop("prepend_scheme", None)
            p.pop("split", None)
            p["add_prefix_space"] = True
    json.dump(d, open(path, "w"), ensure_ascii=False)


def make_unigram_bytes(path):
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.Strip(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    tr = trainers.UnigramTrainer(vocab_size=600, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>",
                                 max_piece_length=8, show_progress=False,
                                 initial_alphabet=list("abcdefghijklmnopqrstuvwxyz▁.,'"))
    tok.train(base.train_files(), tr)
    d = json.loads(tok.to_str())
    vocab = d["model"]["vocab"]
    have = {p for p, _ in vocab}
    lowest = min(s for _, s in vocab)
    for b in range(256):
        piece = "<0x%02X>" % b
        if piece not in have:
            vocab.append([piece, lowest - 1.0])
    d["model"]["byte_fallback"] = True
    json.dump(d, open(path, "w"), ensure_ascii=False)


def _pb_fields(b):
    """(field, wire type, value) of a protobuf message (enough for ModelProto)."""
    def varint(i):
        r = s = 0
        while True:
            c = b[i]
            i += 1
            r |= (c & 0x7F) << s
            s += 7
            if c < 0x80:
                return r, i
    i = 0
    while i < len(b):
        k, i = varint(i)
        f, w = k >> 3, k & 7
        if w == 0:
            v, i = varint(i)
        elif w == 2:
            n, i = varint(i)
            v, i = b[i:i + n], i + n
        elif w == 5:
            v, i = b[i:i + 4], i + 4
        elif w == 1:
            v, i = b[i:i + 8], i + 8
        else:
            raise ValueError("wire type %d" % w)
        yield f, w, v


def make_t5_precompiled(path, workdir):
    import sentencepiece as spm
    assert spm.__version__ == "0.2.3", spm.__version__
    prefix = os.path.join(workdir, "t5pc")
    spm.SentencePieceTrainer.train(input=base.train_files()[0], model_prefix=prefix, vocab_size=800,
                                   model_type="unigram", normalization_rule_name="nmt_nfkc", character_coverage=1.0,
                                   pad_id=0, eos_id=1, unk_id=2, bos_id=-1, minloglevel=2)
    raw = open(prefix + ".model", "rb").read()
    norm_spec = [v for f, _, v in _pb_fields(raw) if f == 3][0]           # ModelProto.normalizer_spec
    charsmap = [v for f, _, v in _pb_fields(norm_spec) if f == 2][0]      # NormalizerSpec.precompiled_charsmap
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp.unk_id(), byte_fallback=False))
    tok.normalizer = normalizers.Precompiled(charsmap)
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                                 pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")])
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", 1)])
    tok.add_special_tokens(["<pad>", "</s>", "<unk>"])
    json.dump(json.loads(tok.to_str()), open(path, "w"), ensure_ascii=False)


def make_roberta_style(path):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tr = trainers.BpeTrainer(vocab_size=1200, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False)
    tok.train(base.train_files(), tr)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                      ("<s>", tok.token_to_id("<s>")), add_prefix_space=False)
    json.dump(json.loads(tok.to_str()), open(path, "w"), ensure_ascii=False)


def main():
    assert tokenizers.__version__ == "0.23.3", tokenizers.__version__
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".ids.gz"):
            os.remove(os.path.join(OUT, f))
    names = ["bert-uncased", "bert-cased", "t5-style", "unigram-bytes", "roberta-style", "t5-precompiled"]
    make_bert(os.path.join(OUT, "bert-uncased.json"), True)
    make_bert(os.path.join(OUT, "bert-cased.json"), False)
    make_t5_style(os.path.join(OUT, "t5-style.json"))
    make_unigram_bytes(os.path.join(OUT, "unigram-bytes.json"))
    make_roberta_style(os.path.join(OUT, "roberta-style.json"))
    import tempfile
    with tempfile.TemporaryDirectory() as td:
        make_t5_precompiled(os.path.join(OUT, "t5-precompiled.json"), td)

    C = base.CORPORA
    sources = []
    for c in (C[0], C[1], C[4]):  # tinyshakespeare, wikitext-2, pride and prejudice
        raw = open(os.path.join(base.DATA, c), "rb").read()
        cap = 150 if "wikitext" in c else 400
        sources.append((os.path.basename(c).split(".")[0], "shared:data/" + c, "line", base.docs_line(raw)[:cap]))
    alice = open(os.path.join(base.DATA, C[2]), "rb").read()
    para = base.docs_paragraph(alice)[:300]
    sources.append(("alice-paragraph", "shared:data/" + C[2], "paragraph", para))
    sources.append(("llamacpp", "shared:data/" + base.LLAMACPP, "strings",
                    base.strings_of(os.path.join(base.DATA, base.LLAMACPP))))
    stress = base.strings_of(os.path.join(base.OUT, "stress.bin"))
    sources.append(("stress", "fixture:stress.bin", "strings", stress))

    rows, total = [], 0

    def emit(tname, sname, spec, split, docs, max_length, add_special):
        tok = Tokenizer.from_file(os.path.join(OUT, tname + ".json"))
        if max_length:
            tok.enable_truncation(max_length)
        texts = [d.decode("utf-8", errors="replace") for d in docs]
        ids = [tok.encode(t, add_special_tokens=bool(add_special)).ids for t in texts]
        tag = sname + ("-ml%d" % max_length if max_length else "") + ("" if add_special else "-nospecial")
        fname = "%s__%s.ids.gz" % (tname, tag)
        body = "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in ids).encode()
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(gzip.compress(body, 9, mtime=0))
        rows.append("\t".join([tname, "fixture:encoders/%s.json" % tname, sname, spec, split, str(max_length),
                               str(add_special), "encoders/" + fname, str(len(docs))]))
        return len(docs)

    for tname in names:
        for sname, spec, split, docs in sources:
            total += emit(tname, sname, spec, split, docs, 0, 1)
        total += emit(tname, "alice-paragraph", "shared:data/" + C[2], "paragraph", para, 48, 1)
        total += emit(tname, "stress", "fixture:stress.bin", "strings", stress, 0, 0)
    with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
        f.write("# tokenizer\ttokenizer_path\tsource\tsource_path\tsplit\tmax_length\tadd_special\texpected\tn_docs\n")
        f.write("# made by tools/make_tokenizer_fixtures_encoders.py with tokenizers %s\n" % tokenizers.__version__)
        for r in rows:
            f.write(r + "\n")
    size = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("%d fixtures, %d documents/strings, %.0f KB in %s" % (len(rows), total, size / 1024, OUT))
    # the unk / byte-fallback / max_input_chars paths are exercised
    for tname, tokname in [("bert-cased", "[UNK]"), ("t5-style", "<unk>"), ("unigram-bytes", "<0xC3>")]:
        tok = Tokenizer.from_file(os.path.join(OUT, tname + ".json"))
        tid = tok.token_to_id(tokname)
        n = sum(tok.encode(s.decode("utf-8", errors="replace")).ids.count(tid) for s in stress)
        print("  %s: %d x %s in the stress strings" % (tname, n, tokname))
        assert n > 0, (tname, tokname)


if __name__ == "__main__":
    sys.exit(main())
