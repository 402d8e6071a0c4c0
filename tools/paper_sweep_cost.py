"""How long each paper sweep (configs/sweeps/paper-*.yaml and the other hub
sweeps) takes on one GPU, and what it downloads: the README's table.

A FLOPs model calibrated on one measured run, not a measurement of each sweep:

  forward + capture  2 * params * tokens FLOPs at 276 TFLOP/s: the Llama-7B shape,
                     100k tokens, took 4.89 s forward + capture on an H200
                     (docs/gpu-log.md, run 4: 2 * 6.74e9 * 1e5 / 4.89 s); small
                     models reach less of the GEMM peak, so 1 s is the floor
  solve              2.16 s for E = 33 entries of d = 4096 (same run), scaled
                     by E * d^3
  load               2 s per point (process, backend, tokenising the book) plus
                     the weights' bytes at 2 GB/s (read from the cache, uploaded)
  download           the weights' bytes (params * bytes per stored parameter,
                     the repositories' dtypes) at 100 MB/s, once per commit
  tokens             186,563: Pride and Prejudice (data/corpora), 2509
                     paragraphs, GPT-2's tokenizer (`layerlaw tokenize --stats`);
                     each model's own tokenizer gives within ~20% of that

Run: python3 tools/paper_sweep_cost.py  (prints the Markdown table).
"""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOKENS = 186_563
FWD_FLOPS = 276e12
SOLVE_REF = (2.16, 33, 4096)
NET = 100e6

# hub id: (params, layers L, hidden d, bytes per stored parameter)
MODELS = {
    "openai-community/gpt2": (124e6, 12, 768, 4), "openai-community/gpt2-medium": (355e6, 24, 1024, 4),
    "openai-community/gpt2-large": (774e6, 36, 1280, 4), "openai-community/gpt2-xl": (1.56e9, 48, 1600, 4),
    "openai-community/openai-gpt": (117e6, 12, 768, 4),
    "EleutherAI/pythia-70m": (70e6, 6, 512, 2), "EleutherAI/pythia-160m": (162e6, 12, 768, 2),
    "EleutherAI/pythia-410m": (405e6, 24, 1024, 2), "EleutherAI/pythia-1b": (1.01e9, 16, 2048, 2),
    "EleutherAI/pythia-1.4b": (1.41e9, 24, 2048, 2), "EleutherAI/pythia-2.8b": (2.78e9, 32, 2560, 2),
    "EleutherAI/pythia-6.9b": (6.86e9, 32, 4096, 2), "EleutherAI/pythia-12b": (11.8e9, 36, 5120, 2),
    "RWKV/rwkv-4-430m-pile": (430e6, 24, 1024, 4), "RWKV/rwkv-raven-1b5": (1.5e9, 24, 2048, 4),
    "RWKV/rwkv-raven-3b": (3e9, 32, 2560, 4), "RWKV/rwkv-raven-7b": (7e9, 32, 4096, 4),
    "RWKV/rwkv-raven-14b": (14e9, 40, 5120, 4),
    "state-spaces/mamba-130m-hf": (130e6, 24, 768, 4), "state-spaces/mamba-370m-hf": (370e6, 48, 1024, 4),
    "state-spaces/mamba-790m-hf": (790e6, 48, 1536, 4), "state-spaces/mamba-1.4b-hf": (1.4e9, 48, 2048, 4),
    "state-spaces/mamba-2.8b-hf": (2.8e9, 64, 2560, 4),
    "microsoft/phi-1_5": (1.4e9, 24, 2048, 2), "microsoft/phi-2": (2.7e9, 32, 2560, 2),
    "microsoft/Phi-3-mini-4k-instruct": (3.8e9, 32, 3072, 2), "Qwen/Qwen2-1.5B": (1.54e9, 28, 1536, 2),
    "mistralai/Mistral-7B-v0.1": (7.24e9, 32, 4096, 2), "meta-llama/Llama-2-7b-hf": (6.74e9, 32, 4096, 2),
    "google-bert/bert-base-uncased": (110e6, 12, 768, 4), "FacebookAI/roberta-base": (125e6, 12, 768, 4),
    "google-t5/t5-base": (223e6, 24, 768, 4),
}


def sweep_points(path):
    """(hub id, revisions, n axis combinations) from a sweep file, read with a
    few regular expressions (the shipped files' own layout)."""
    text = path.read_text()
    hubs = re.findall(r"hub:\s*([\w.-]+/[\w.-]+)", text)
    revs = re.findall(r"revisions:\s*\[([^\]]*)\]", text, re.S)
    nrev = [len([r for r in x.split(",") if r.strip()]) for x in revs]
    combos = 1
    m = re.search(r"^axes:\n((?:  .*\n)+)", text, re.M)
    if m:
        for line in m.group(1).splitlines():
            v = re.search(r"\[(.*)\]", line)
            combos *= len(v.group(1).split(",")) if v else 1
    return hubs, nrev, combos


def point_seconds(mid):
    p, L, d, b = MODELS[mid]
    E = L + 1
    fwd = max(1.0, 2 * p * TOKENS / FWD_FLOPS)
    solve = SOLVE_REF[0] * (E / SOLVE_REF[1]) * (d / SOLVE_REF[2]) ** 3
    load = 2.0 + p * b / 2e9
    return load + fwd + solve


def fmt_t(s):
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s"


def main():
    print("| sweep | points | models | downloads | GPU time (model) | + download at 100 MB/s |")
    print("|---|---:|---|---:|---:|---:|")
    for f in sorted((ROOT / "configs/sweeps").glob("*.yaml")):
        hubs, nrev, combos = sweep_points(f)
        if not hubs:
            continue
        if nrev and len(nrev) == len(hubs):
            per = [(h, n) for h, n in zip(hubs, nrev)]
        else:
            per = [(h, 1) for h in hubs]
        pts = sum(n * combos for _, n in per)
        gpu = sum(point_seconds(h) * n * combos for h, n in per)
        dl = sum(MODELS[h][0] * MODELS[h][3] * n for h, n in per)
        print(f"| `{f.name}` | {pts} | {len(per)} | {dl / 1e9:.1f} GB | {fmt_t(gpu)} | {fmt_t(gpu + dl / NET)} |")


if __name__ == "__main__":
    main()
