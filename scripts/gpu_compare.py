#!/usr/bin/env python3
"""Comparisons for scripts/gpu-check.sh (standard library + numpy only: what
the lent GPU machine has).  Each subcommand prints one line per check starting
with "ok" or "FAIL" and exits 1 when a check fails.

  law CPU_DIR CUDA_DIR --rtol R [--label L]
      every numeric per-entry member both law.json files hold (pr, rss, tss,
      pr_heldout, separation_fuzziness, ...; not the derived log10_* ones;
      rank is only reported) and the law
      fit's slope, relative difference max over entries <= R
  npy CPU.npy CUDA.npy --rtol R [--label L]
      the --dump-hidden arrays: same shape; per entry the normwise relative
      difference ||cuda - cpu|| / ||cpu|| over all examples <= R
  timing CUDA_DIR [--label L]
      law.json has gpu_timing with one per_entry record per entry, batches > 0,
      every layer_ms_per_batch > 0 for entries >= 1; provenance.gpu names the card
  absent DIR...
      none of the paths exists (a failed run wrote nothing)
"""
import json
import math
import os
import sys


def load_law(d):
    with open(os.path.join(d, "law.json")) as f:
        return json.load(f)


def rel(a, b):
    if a == b:
        return 0.0
    den = max(abs(a), abs(b))
    return abs(a - b) / den if den > 0 else 0.0


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def cmd_law(args):
    cpu_dir, cuda_dir, rtol, label = args[0], args[1], float(args[args.index("--rtol") + 1]), opt(args, "--label", "")
    a, b = load_law(cpu_dir), load_law(cuda_dir)
    la, lb = a.get("layers", []), b.get("layers", [])
    bad = 0
    if len(la) != len(lb) or not la:
        print(f"FAIL {label}: entries cpu {len(la)} cuda {len(lb)}")
        return 1
    # log10_* members are derived (and near 0 their relative difference means nothing)
    keys = [k for k in la[0] if k not in ("index", "rank", "in_fit") and not k.startswith("log10_")
            and num(la[0][k]) and k in lb[0]]
    worst = {}
    for ea, eb in zip(la, lb):
        for k in keys:
            if num(ea.get(k)) and num(eb.get(k)):
                r = rel(ea[k], eb[k])
                if r > worst.get(k, (-1, 0))[0]:
                    worst[k] = (r, ea["index"])
    ranks = [(ea.get("rank"), eb.get("rank")) for ea, eb in zip(la, lb) if ea.get("rank") != eb.get("rank")]
    for k in keys:
        r, e = worst.get(k, (0.0, 0))
        st = "ok" if r <= rtol else "FAIL"
        bad += st == "FAIL"
        print(f"{st} {label}: {k}: max rel diff {r:.3g} (entry {e}) [rtol {rtol:g}]")
    fa, fb = a.get("fit") or {}, b.get("fit") or {}
    if num(fa.get("slope")) and num(fb.get("slope")):
        r = rel(fa["slope"], fb["slope"])
        st = "ok" if r <= rtol else "FAIL"
        bad += st == "FAIL"
        print(f"{st} {label}: slope cpu {fa['slope']:.8g} cuda {fb['slope']:.8g}, rel diff {r:.3g} [rtol {rtol:g}]")
    main_key = "pr" if "pr" in lb[0] else keys[0] if keys else "index"
    print(f"info {label}: cuda {main_key} " + " ".join(f"{e.get(main_key, float('nan')):.6g}" for e in lb) +
          (f"; ranks differ at {len(ranks)} entries: {ranks[:4]}" if ranks else "; ranks equal"))
    return 1 if bad else 0


def cmd_npy(args):
    import numpy as np
    p_cpu, p_cuda, rtol, label = args[0], args[1], float(args[args.index("--rtol") + 1]), opt(args, "--label", "")
    a = np.load(p_cpu, mmap_mode="r")
    b = np.load(p_cuda, mmap_mode="r")
    if a.shape != b.shape or a.dtype != b.dtype:
        print(f"FAIL {label}: cpu {a.shape} {a.dtype} vs cuda {b.shape} {b.dtype}")
        return 1
    if a.ndim != 3:
        print(f"FAIL {label}: expected (N, E, d), got {a.shape}")
        return 1
    worst, we = 0.0, 0
    for e in range(a.shape[1]):
        x = np.asarray(a[:, e, :], dtype=np.float64)
        y = np.asarray(b[:, e, :], dtype=np.float64)
        if not np.all(np.isfinite(y)):
            print(f"FAIL {label}: entry {e}: non-finite values in the CUDA dump")
            return 1
        n = np.linalg.norm(x)
        r = np.linalg.norm(y - x) / n if n > 0 else float(np.linalg.norm(y))
        if r > worst:
            worst, we = r, e
    st = "ok" if worst <= rtol else "FAIL"
    print(f"{st} {label}: shape {a.shape}, max per-entry normwise rel diff {worst:.3g} (entry {we}) [rtol {rtol:g}]")
    return 0 if st == "ok" else 1


def cmd_timing(args):
    d, label = args[0], opt(args, "--label", "")
    law = load_law(d)
    gt = law.get("gpu_timing")
    E = len(law.get("layers", []))
    if not isinstance(gt, dict):
        print(f"FAIL {label}: law.json has no gpu_timing")
        return 1
    pe = gt.get("per_entry") or []
    bad = []
    if gt.get("batches", 0) <= 0:
        bad.append(f"batches {gt.get('batches')}")
    if len(pe) != E:
        bad.append(f"{len(pe)} per_entry records for {E} entries")
    for r in pe:
        if r.get("index", 0) >= 1 and not (num(r.get("layer_ms_per_batch")) and r["layer_ms_per_batch"] > 0):
            bad.append(f"entry {r.get('index')}: layer_ms_per_batch {r.get('layer_ms_per_batch')}")
    ms = [r.get("layer_ms_per_batch", 0) for r in pe]
    tf = [r.get("tflops", 0) for r in pe if "tflops" in r]
    info = (f"batches {gt.get('batches')}, peak bf16 GEMM {gt.get('peak_bf16_gemm_tflops', 0):.0f} TFLOP/s, "
            f"layer ms/batch " + " ".join(f"{x:.3g}" for x in ms) +
            (f", TFLOP/s max {max(tf):.3g}" if tf else ""))
    # provenance records the GPU (host/backend/backend_info.c: ll_gpu_info_get)
    g = (law.get("provenance") or {}).get("gpu")
    if isinstance(g, dict) and g.get("name"):
        print(f"ok {label}: provenance.gpu: " + ", ".join(f"{k} {v}" for k, v in g.items())[:200])
    else:
        bad.append(f"provenance.gpu is {g!r}")
    if bad:
        print(f"FAIL {label}: " + "; ".join(bad[:4]) + f" ({info})")
        return 1
    print(f"ok {label}: {info}")
    return 0


def cmd_absent(args):
    present = [p for p in args if os.path.exists(p)]
    if present:
        print("FAIL nothing written: present: " + " ".join(present))
        return 1
    print("ok nothing written: " + " ".join(args))
    return 0


def opt(args, name, default):
    return args[args.index(name) + 1] if name in args else default


def main(argv):
    if len(argv) < 2 or argv[1] not in ("law", "npy", "timing", "absent"):
        print(__doc__)
        return 2
    try:
        return {"law": cmd_law, "npy": cmd_npy, "timing": cmd_timing, "absent": cmd_absent}[argv[1]](argv[2:])
    except (OSError, ValueError, KeyError, IndexError) as e:
        print(f"FAIL {argv[1]}: {type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
