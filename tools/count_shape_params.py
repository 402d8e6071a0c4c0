#!/usr/bin/env python3
"""Parameter counts of configs/shapes/<name>/config.json as PyPI transformers
builds the model from that config (on the meta device: no memory, no weights).
The oracle for tests/test_shapes.c's COUNTED table (the C formula of each family
must give the same number):
  decoders   AutoModelForCausalLM (a tied LM head counted once, an untied one with
             its bias included, as the checkpoint stores it)
  bert/roberta  AutoModel without the pooler (what layerlaw loads)
  t5         AutoModel (T5Model: shared embeddings, encoder, decoder)

    python3 tools/count_shape_params.py phi-2-2.7b gemma-2.5b ...   # or no names: the new families
"""
import json
import os
import sys

import torch
import transformers

SHAPES = os.path.join(os.path.dirname(__file__), "..", "configs", "shapes")
NEW = ["phi-2-2.7b", "phi-3-mini-3.8b", "gemma-2.5b", "gemma-2-2.6b", "qwen3-0.6b", "bert-base-110m",
       "roberta-base-125m", "openai-gpt-117m", "mamba2-130m", "t5-small-60m"]


def count(name):
    with open(os.path.join(SHAPES, name, "config.json")) as f:
        c = json.load(f)
    c = {k: v for k, v in c.items() if not k.startswith("comment")}
    mt = c.pop("model_type")
    if isinstance(c.get("time_step_limit"), list):  # JSON has no infinity
        c["time_step_limit"] = [float(x) if not isinstance(x, dict) else float("inf") for x in c["time_step_limit"]]
    cfg = transformers.AutoConfig.for_model(mt, **c)
    with torch.device("meta"):
        if mt in ("bert", "roberta"):
            m = transformers.AutoModel.from_config(cfg, add_pooling_layer=False)
        elif mt == "t5":
            m = transformers.AutoModel.from_config(cfg)
        else:
            m = transformers.AutoModelForCausalLM.from_config(cfg)
    return sum(p.numel() for p in m.parameters())


if __name__ == "__main__":
    print(f"# transformers {transformers.__version__}, torch {torch.__version__}")
    for n in sys.argv[1:] or NEW:
        print(f'    {{"{n}", {count(n)}}},')
