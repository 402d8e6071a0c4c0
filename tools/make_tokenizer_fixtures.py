#!/usr/bin/env python3
"""Expected token ids for tests/test_tokenizer.c, from PyPI `tokenizers`.

Run from the repo root:  python3 tools/make_tokenizer_fixtures.py
(needs tokenizers==0.23.3; reads ../shared/data, or $LAYERLAW_SHARED/data).

The tokenizers are called as transformers' AutoTokenizer calls the fast
tokenizer: Tokenizer.from_file(path), enable_truncation(max_length) when a
max_length is given (right, longest_first, stride 0), then
encode(text, add_special_tokens=...).ids.  Input bytes are decoded with
bytes.decode('utf-8', errors='replace') first (the library takes str).

Documents of a corpus are made exactly as host/io/corpus.c makes them:
  line       split on b'\\n', drop one trailing b'\\r', skip empty lines
  paragraph  lines as above; blank lines (only ' ', '\\t', '\\r') separate
             paragraphs; the lines of a paragraph are joined with '\\n'
Each corpus is capped to its first CAP (2000) documents, WikiText-2 to 500
(150 for the small trained tokenizers); the manifest's n_docs column says how
many, and the C test reads that many documents with host/io/corpus.c.

Writes to tests/fixtures/tokenizers/:
  manifest.tsv            one row per fixture (read by the C test)
  stress.bin              generated stress strings, separated by
                          "\\n__ggml_vocab_test__\\n" (the llama.cpp format)
  <name>.json             small tokenizers trained here (Llama-3/Qwen2 style,
                          Llama-2 style, Metaspace-split style, ByteLevel
                          with added-token flags and RobertaProcessing, every
                          Split behaviour with NFKD/Replace/BertProcessing)
  <tok>__<source>[-ml<N>][-nospecial].ids.gz  expected ids, one JSON array per document/string
"""
import gzip
import json
import os
import random
import sys

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("LAYERLAW_SHARED", os.path.join(ROOT, "..", "shared"))
DATA = os.path.join(SHARED, "data")
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizers")
CAP = 2000
SEP = b"\n__ggml_vocab_test__\n"

CORPORA = [
    "corpora/tinyshakespeare.txt",
    "corpora/wikitext-2-raw-v1.test.txt",
    "corpora/gutenberg-11-alices-adventures-in-wonderland.txt",
    "corpora/gutenberg-84-frankenstein.txt",
    "corpora/gutenberg-1342-pride-and-prejudice.txt",
]
LLAMACPP = "tokenizers/testvectors-llama.cpp/ggml-vocab-gpt-2.gguf.inp"


def lines_of(raw):
    out = []
    for l in raw.split(b"\n"):
        if l.endswith(b"\r"):
            l = l[:-1]
        out.append(l)
    if out and out[-1] == b"" and raw.endswith(b"\n"):
        out.pop()
    return out


def docs_line(raw):
    return [l for l in lines_of(raw) if l]


def docs_paragraph(raw):
    docs, cur = [], []
    for l in lines_of(raw):
        if l.strip(b" \t\r") == b"":
            if cur:
                docs.append(b"\n".join(cur))
                cur = []
        else:
            cur.append(l)
    if cur:
        docs.append(b"\n".join(cur))
    return docs


def strings_of(path):
    parts = open(path, "rb").read().split(SEP)
    assert parts[-1] == b"", path
    return parts[:-1]


# ---------------------------------------------------------------- stress text
def stress_strings():
    fixed = [
        "", " ", "  ", "\n", "\r\n", "\t", "Hello world", " Hello world", "Hello  world  ",
        "   leading and trailing   ", "a" * 40, " " * 33 + "x" + " " * 25, "\n\n\n\nparagraph\n\n",
        "tabs\tand\t\tmore\t", "line one\r\nline two\r\n\r\nline four\r", "CR only\rhere",
        "I'm, you're, they've, we'll, he'd, it's, DON'T, WE'LL, She'S", "don't can't won't ain't",
        "1 12 123 1234 12345 123456 3.14159 1,000,000 0x1F 2024-11-26 10:30",
        "٣٤ ½ ① ⅷ ²³ 𝟘𝟙", "café résumé naïve Ångström", "cafe\u0301 e\u0301\u0301 a\u0308o\u0308",
        "\u212b \u2126 \u1e9b\u0323 \ufb01x \ufb03 \u2460", "中文字符测试，标点。", "日本語のテキスト、カタカナ。",
        "한국어 텍스트 \u1100\u1161\u11a8", "עברית טקסט עם ניקוד שָׁלוֹם", "العربية مع أرقام ١٢٣",
        "mixed עברית and English", "emoji 😀😃🎉 👨‍👩‍👧‍👦 🇺🇸🇫🇷 👍🏽 ❤️", "zero\u200bwidth\u200cjoin\u200d",
        "nbsp\u00a0here\u3000ideographic\u2028sep\u2029para\u0085nel", "\x00\x01\x02\x7f control \x1b[31m",
        "<s> bos in text </s> eos <unk>", "<s><s></s>", "text<|endoftext|>more<|endoftext|>",
        "<|begin_of_text|>hello<|end_of_text|>", "<|padding|> pad", "x" + " " * 24 + "y" + " " * 2 + "z",
        "<mask> masked", "word <mask>  spaced", "[WORD] alone and in[WORD]side a [WORD]x", "<r>   rstrip <r>",
        "fix \ufb01x prefix", "hello world hello  world", "Ġ ▁ Ċ", "▁▁▁ already metaspace ▁x",
        "https://example.com/path?q=1&b=2#frag", "email@example.org", "def f(x):\n    return x**2\n",
        "    indented\n        more", "ALL CAPS SHOUTING", "MiXeD cAsE wOrDs", "....!!!???;;;---___",
        "\"quoted\" 'single' `back` «guillemets» „low“", "$100 €50 £20 ¥1000 ₹500",
        "a\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307 stacked", "\U0001f600" * 10,
        "\U00010348 gothic \U0001d11e music", "Ω≈ç√∫˜µ≤≥÷", "¡™£¢∞§¶•ªº–≠",
        # regressions found by fuzzing against tokenizers:
        "a   \u180e\u180e x\u180e\u180ey \r\n\u180e", "\u1680\u1680 \u2008\u2006 \u202f\u205f x",  # Oniguruma's \s
        "\uc5b4\u11a7 \ud6c8\u11a8 \u1100\u1161\u11a7 \u1100\u1161\u11a8",  # NFC around U+11A7
        "[WORD]\u24d9 [WORD]\u24b6 \u24d9[WORD] [WORD]_ _[WORD] [WORD]\u0301",  # single_word uses \w
    ]
    out = [s.encode("utf-8") for s in fixed]
    invalid = [b"\xff", b"\xfe\xfe", b"\xc3", b"\xc3(", b"\xe2\x82", b"\xe2\x82(", b"\xed\xa0\x80",
               b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\x80\x80", b"\xf0\x9f\x98", b"\xf8\x88\x80\x80\x80"]
    for b in invalid:
        out.append(b"before " + b + b" after")
        out.append(b)
    out.append("caf".encode() + b"\xe9 latin-1 \xe9t\xe9 " + "ok é".encode())
    pool = ([chr(c) for c in range(0x20, 0x7f)] + list("  \t\n") + ["\r\n", "\r", "   ", "\n\n", "\x00", "\x07"] +
            ["é", "e\u0301", "ñ", "ß", "Å", "\u212b", "中", "文", "日本", "한", "ע", "ب", "😀", "👨‍👩‍👧", "🇺🇸",
             "\u200b", "\u00a0", "\u3000", "'s", "'ll", "'RE", "n't", " 123", "4567890", "٣", "½", "ﬁ",
             " the", " and", "ing", "tion", " Alice", "<s>", "</s>", "<|endoftext|>", "<mask>", "[WORD]", "<r>",
             " " * 5, " " * 17] + [None] * 6)
    rnd = random.Random(20241126)
    for i in range(300):
        parts = []
        for _ in range(rnd.randint(0, 60)):
            p = rnd.choice(pool)
            if p is None:
                parts.append(rnd.choice(invalid))
            else:
                parts.append(p.encode("utf-8"))
        out.append(b"".join(parts))
    # random code points from many scripts and planes (the fuzzing mix)
    ranges = [(0x20, 0x7e, 30), (0x9, 0xd, 3), (0xa0, 0xff, 3), (0x300, 0x36f, 3), (0x370, 0x3ff, 1), (0x400, 0x4ff, 1),
              (0x590, 0x5ff, 1), (0x600, 0x6ff, 1), (0x900, 0x97f, 1), (0xe00, 0xe7f, 1), (0x1100, 0x11ff, 2),
              (0xac00, 0xd7a3, 1), (0x4e00, 0x9fff, 2), (0x3040, 0x30ff, 1), (0x1f300, 0x1faff, 2), (0x2000, 0x206f, 2),
              (0x3000, 0x3003, 1), (0xfe00, 0xfe0f, 1), (0xe000, 0xe010, 1), (0xfff0, 0xffff, 1), (0x10000, 0x1007f, 1),
              (0xf0000, 0xf0010, 1), (0x1d400, 0x1d7ff, 1), (0x2460, 0x24ff, 1), (0xfb00, 0xfb4f, 1), (0x1, 0x1f, 1),
              (0x80, 0x9f, 1), (0x2150, 0x218f, 1), (0x660, 0x669, 1), (0x1680, 0x1680, 1), (0x180e, 0x180e, 1)]
    weights = [w for *_, w in ranges]
    for i in range(250):
        parts = []
        for _ in range(rnd.randint(0, 30)):
            if rnd.random() < 0.1:
                parts.append(rnd.choice(pool) or " ")
                continue
            lo, hi, _ = rnd.choices(ranges, weights=weights)[0]
            parts.append("".join(chr(rnd.randint(lo, hi)) for _ in range(rnd.randint(1, 6))))
            if rnd.random() < 0.3:
                parts.append(" ")
        out.append("".join(parts).encode("utf-8", errors="surrogatepass"))
    # long documents: the no-cache path (> 256 bytes per word) and long merges
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "Alice", "rabbit", "中文", "😀"]
    out.append(" ".join(rnd.choice(words) for _ in range(800)).encode())
    out.append(("abcdefghij" * 100).encode())
    out.append(("ab" * 300 + " " + "x" * 700).encode())
    for s in out:
        assert SEP not in s
    return out


# ---------------------------------------------------------- trained tokenizers
TIKTOKEN_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def train_files():
    return [os.path.join(DATA, "corpora/gutenberg-11-alices-adventures-in-wonderland.txt"),
            os.path.join(DATA, "corpora/wikitext-2-raw-v1.test.txt")]


def make_llama3_style(path):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(TIKTOKEN_RE), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=2000, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             special_tokens=["<|begin_of_text|>", "<|end_of_text|>"], show_progress=False)
    tok.train(train_files(), tr)
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos)])])
    d = json.loads(tok.to_str())
    d["model"]["ignore_merges"] = True
    # whole words that the merges do not build: with ignore_merges they come out
    # as one id (as in Llama-3's vocab), without it they would be split.
    vocab = d["model"]["vocab"]
    nid = max(vocab.values()) + 1
    for w in ["ĠAlice", "ĠRabbit", "Ġwonderland", "Ġthe", "Ġhurried", "Ġwikipedia", "ingly", "ĠQueen", "Ġ1234"]:
        if w not in vocab:
            vocab[w] = nid
            nid += 1
    for at in d["added_tokens"]:
        at["id"] = vocab.get(at["content"], at["id"])
    json.dump(d, open(path, "w"), ensure_ascii=False)


def spm_base(limit_alphabet=120, vocab_size=900):
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tr = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"],
                             limit_alphabet=limit_alphabet, show_progress=False)
    tok.train(train_files(), tr)
    d = json.loads(tok.to_str())
    old = d["model"]["vocab"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for k, _ in sorted(old.items(), key=lambda kv: kv[1]):
        if k not in vocab:
            vocab[k] = len(vocab)
    d["model"]["vocab"] = vocab
    d["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in d["model"]["merges"]]  # legacy strings
    for at in d["added_tokens"]:
        at["id"] = vocab[at["content"]]
        at["normalized"] = False
    d["post_processor"] = {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    return d


def make_llama2_style(path):
    d = spm_base()
    # Llama-2's HF tokenizer.json: normalizer Prepend + Replace, no pre-tokenizer
    d["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
    d["pre_tokenizer"] = None
    d["decoder"] = None
    json.dump(d, open(path, "w"), ensure_ascii=False)


def make_metaspace_split(path):
    d = spm_base()
    d["normalizer"] = None
    d["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True}
    d["decoder"] = None
    json.dump(d, open(path, "w"), ensure_ascii=False)


def make_bytelevel_flags(path):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tr = trainers.BpeTrainer(vocab_size=1200, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False)
    tok.train(train_files(), tr)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    tok.add_tokens([AddedToken("[WORD]", single_word=True, normalized=False),
                    AddedToken("<r>", rstrip=True, normalized=False),
                    AddedToken("\ufb01x", normalized=True),          # NFKC: matches "fix" and "ﬁx"
                    AddedToken(" hello world", normalized=True)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    tok.save(path)


def make_split_variants(path):
    """Every Split behaviour, invert, NFKD, Replace (Regex and String),
    continuing_subword_prefix / end_of_word_suffix, unk without fuse, BertProcessing."""
    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.Replace(Regex(r"[0-9]{2,}"), "<num>"),
                                           normalizers.Replace("''", '"')])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(" ", behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"\p{P}"), behavior="merged_with_next"),
        pre_tokenizers.Split("-", behavior="removed"),
        pre_tokenizers.Split(Regex(r"[aeiou]"), behavior="contiguous"),
        pre_tokenizers.Split(Regex(r"\s+"), behavior="isolated", invert=True)])
    tr = trainers.BpeTrainer(vocab_size=600, special_tokens=["[UNK]", "[CLS]", "[SEP]"], continuing_subword_prefix="##",
                             end_of_word_suffix="</w>", limit_alphabet=150, show_progress=False)
    tok.train([train_files()[0]], tr)
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    tok.save(path)


# ------------------------------------------------------------------- main
def main():
    assert tokenizers.__version__ == "0.23.3", tokenizers.__version__
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".ids.gz"):
            os.remove(os.path.join(OUT, f))
    stress = stress_strings()
    with open(os.path.join(OUT, "stress.bin"), "wb") as f:
        for s in stress:
            f.write(s + SEP)
    make_llama3_style(os.path.join(OUT, "llama3-style.json"))
    make_llama2_style(os.path.join(OUT, "llama2-style.json"))
    make_metaspace_split(os.path.join(OUT, "metaspace-split.json"))
    make_bytelevel_flags(os.path.join(OUT, "bytelevel-flags.json"))
    make_split_variants(os.path.join(OUT, "split-variants.json"))

    toks = {
        "gpt2": "shared:data/tokenizers/gpt2/tokenizer.json",
        "gpt-neox-20b": "shared:data/tokenizers/gpt-neox-20b",
        "mistral-7b-v0.1": "shared:data/tokenizers/mistral-7b-v0.1/tokenizer.json",
        "llama3-style": "fixture:llama3-style.json",
        "llama2-style": "fixture:llama2-style.json",
        "metaspace-split": "fixture:metaspace-split.json",
        "bytelevel-flags": "fixture:bytelevel-flags.json",
        "split-variants": "fixture:split-variants.json",
    }

    def tpath(spec):
        kind, rel = spec.split(":", 1)
        p = os.path.join(DATA if kind == "shared" else OUT, rel[5:] if kind == "shared" else rel)
        if os.path.isdir(p):
            p = os.path.join(p, "tokenizer.json")
        return p

    # sources: name -> (kind, path spec, split, docs)
    sources = []
    for c in CORPORA:
        raw = open(os.path.join(DATA, c), "rb").read()
        sources.append((os.path.basename(c).split(".")[0], "shared:data/" + c, "line", docs_line(raw)[:CAP]))
    alice = open(os.path.join(DATA, CORPORA[2]), "rb").read()
    para = docs_paragraph(alice)[:CAP]
    sources.append(("alice-paragraph", "shared:data/" + CORPORA[2], "paragraph", para))
    sources.append(("llamacpp", "shared:data/" + LLAMACPP, "strings", strings_of(os.path.join(DATA, LLAMACPP))))
    sources.append(("stress", "fixture:stress.bin", "strings", stress))

    rows = []
    total = 0

    def emit(tname, sname, spec, split, docs, max_length, add_special):
        tok = Tokenizer.from_file(tpath(toks[tname]))
        if max_length:
            tok.enable_truncation(max_length)
        texts = [d.decode("utf-8", errors="replace") for d in docs]
        ids = [tok.encode(t, add_special_tokens=bool(add_special)).ids for t in texts]
        tag = sname + ("-ml%d" % max_length if max_length else "") + ("" if add_special else "-nospecial")
        fname = "%s__%s.ids.gz" % (tname, tag)
        body = "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in ids).encode()
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(gzip.compress(body, 9, mtime=0))
        rows.append("\t".join([tname, toks[tname], sname, spec, split, str(max_length), str(add_special),
                               fname, str(len(docs))]))
        return len(docs)

    real = ["gpt2", "gpt-neox-20b", "mistral-7b-v0.1"]
    small = ["llama3-style", "llama2-style", "metaspace-split", "bytelevel-flags", "split-variants"]
    for tname in real + small:
        for sname, spec, split, docs in sources:
            cap = CAP
            if tname in small:
                # the trained ones: fewer corpora keep the fixtures small
                if sname not in ("wikitext-2-raw-v1", "alice-paragraph", "llamacpp", "stress"):
                    continue
                if sname == "wikitext-2-raw-v1":
                    cap = 150
            elif sname == "wikitext-2-raw-v1":
                cap = 500  # long lines (Wikipedia paragraphs)
            total += emit(tname, sname, spec, split, docs[:cap], 0, 1)
    # truncation (counting the special tokens) and add_special_tokens=False
    for tname in real + small:
        total += emit(tname, "alice-paragraph", "shared:data/" + CORPORA[2], "paragraph", para, 48, 1)
        total += emit(tname, "stress", "fixture:stress.bin", "strings", stress, 0, 0)

    with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
        f.write("# tokenizer\ttokenizer_path\tsource\tsource_path\tsplit\tmax_length\tadd_special\texpected\tn_docs\n")
        f.write("# made by tools/make_tokenizer_fixtures.py with tokenizers %s\n" % tokenizers.__version__)
        for r in rows:
            f.write(r + "\n")
    size = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("%d fixtures, %d documents/strings, %.0f KB in %s" % (len(rows), total, size / 1024, OUT))

    # the llama.cpp .out files agree with tokenizers on the real vocabularies
    for tname, out in [("gpt2", "ggml-vocab-gpt-2.gguf.out"), ("gpt-neox-20b", "ggml-vocab-mpt.gguf.out")]:
        tok = Tokenizer.from_file(tpath(toks[tname]))
        exp = open(os.path.join(DATA, "tokenizers/testvectors-llama.cpp", out)).read().split("\n")
        strs = strings_of(os.path.join(DATA, LLAMACPP))
        for i, s in enumerate(strs):
            got = " ".join(map(str, tok.encode(s.decode("utf-8"), add_special_tokens=False).ids))
            assert got == exp[i].strip(), (tname, i)
        print("%s: all %d llama.cpp strings agree with %s" % (tname, len(strs), out))


if __name__ == "__main__":
    sys.exit(main())
