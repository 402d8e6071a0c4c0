#!/usr/bin/env python3
"""Tokenisation throughput: build/layerlaw tokenize vs PyPI `tokenizers`,
single-threaded, on the same documents, in one run.

    python3 tools/bench_tokenizer.py [corpus ...]

Default corpus: the five files of ../shared/data/corpora (line documents,
~3.6 MB).  Both sides encode the same documents (split as host/io/corpus.c
does: LF/CRLF lines, empty lines skipped) with add_special_tokens=True and
no truncation; layerlaw's time is its own encode time (--stats), without
start-up, file reading and tokenizer loading; PyPI's is the encode time
(Tokenizer.encode per document, and encode_batch with RAYON_NUM_THREADS=1).
Both wall time and CPU time are reported (CPU time is robust on a loaded
machine).  The binary is copied first (others may relink build/layerlaw).
Both outputs are also compared for equality.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(os.environ.get("LAYERLAW_SHARED", os.path.join(ROOT, "..", "shared")), "data")
TOKS = ["gpt2/tokenizer.json", "gpt-neox-20b/tokenizer.json", "mistral-7b-v0.1/tokenizer.json"]


def main():
    files = sys.argv[1:] or [os.path.join(DATA, "corpora", f) for f in sorted(os.listdir(os.path.join(DATA, "corpora")))]
    raw = b"".join(open(f, "rb").read().rstrip(b"\n") + b"\n" for f in files)
    docs = [l[:-1] if l.endswith(b"\r") else l for l in raw.split(b"\n")]
    docs = [d for d in docs if d]
    nbytes = sum(len(d) for d in docs)
    texts = [d.decode("utf-8", errors="replace") for d in docs]
    with tempfile.NamedTemporaryFile(suffix=".txt", delete=False) as f:
        f.write(b"\n".join(docs) + b"\n")
        path = f.name
    binary = os.path.join(tempfile.mkdtemp(), "layerlaw")
    shutil.copy(os.path.join(ROOT, "build", "layerlaw"), binary)
    print("corpus: %d documents, %.2f MB (%s)" % (len(docs), nbytes / 1e6, ", ".join(os.path.basename(f) for f in files)))
    for tk in TOKS:
        tp = os.path.join(DATA, "tokenizers", tk)
        t = Tokenizer.from_file(tp)
        t0, c0 = time.perf_counter(), time.process_time()
        exp = [t.encode(x).ids for x in texts]
        t1, c1 = time.perf_counter(), time.process_time()
        batch = [e.ids for e in t.encode_batch(texts)]
        t2, c2 = time.perf_counter(), time.process_time()
        r = subprocess.run([binary, "tokenize", "--tokenizer", tp, "--text", path,
                            "--split", "line", "--stats"], capture_output=True)
        got = [json.loads(l) for l in r.stdout.decode().splitlines()]
        stats = r.stderr.decode().strip()
        enc = float(stats.split("encode ")[1].split(" s")[0])
        cpu = float(stats.split("encode cpu ")[1].split(" s")[0])
        ok = got == exp == batch
        mb = nbytes / 1e6
        print("%-16s wall: layerlaw %6.2f MB/s, tokenizers encode %5.2f, encode_batch(1 thread) %5.2f MB/s (x%.1f)"
              % (tk.split("/")[0], mb / enc, mb / (t1 - t0), mb / (t2 - t1), (t2 - t1) / enc))
        print("%-16s cpu:  layerlaw %6.2f MB/s, tokenizers encode %5.2f, encode_batch(1 thread) %5.2f MB/s (x%.1f)"
              "  ids identical: %s" % ("", mb / cpu, mb / (c1 - c0), mb / (c2 - c1), (c2 - c1) / cpu, ok))
    os.unlink(path)
    os.unlink(binary)


if __name__ == "__main__":
    main()
