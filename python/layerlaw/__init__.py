"""layerlaw: the law of equi-learning (He & Su 2024), layer by layer, from Python.

    import layerlaw
    st = layerlaw.Stats(entries=E, dim=d, norm="layernorm")
    st.add(hidden, labels)            # (N, E, d) numpy / torch, (N,) token ids; streamed
    res = st.solve()                  # = `layerlaw fit`, bit for bit
    res.pr, res.law["slope"], res.plot()

    res = layerlaw.measure(model, sequences)    # any HF transformers model (torch)
    res = layerlaw.run(model="configs/stories260K-hf", tokens="ids.jsonl")   # the C pipeline

docs/python.md has the whole interface."""
from ._lib import Error, InputError, cuda_compiled, version
from .cli import cli, run
from .result import Result, load, spearman
from .stats import Stats
from .torch_api import Capture, capture, fresh_norm, measure

__version__ = version()
__all__ = ["Stats", "Result", "Error", "InputError", "measure", "capture", "Capture", "run", "load", "cli",
           "fresh_norm", "cuda_compiled", "version", "spearman"]
