"""The law of any PyTorch model: measure() (HF transformers, output_hidden_states)
and capture() (forward hooks on any modules).  torch is imported when used."""
import json
import os

import numpy as np

from .stats import NORMS, Stats

POSITIONS = {"next": (0, -1, 1), "current": (0, 0, 0), "previous": (1, 0, -1), "next-next": (0, -2, 2)}
# model types whose `run` uses no fresh norm (post-LN / encoder models; docs/families-paper.md)
_NO_FRESH = {"bert", "roberta", "openai-gpt", "t5"}
_FINAL_NORM_NAMES = ("norm", "ln_f", "final_layer_norm", "final_layernorm", "norm_f", "ln_out")


def position_range(position, length):
    """Positions j of a sequence that make examples, [j0, j1), and the label offset (ll_position_range)."""
    if position not in POSITIONS:
        raise ValueError(f"position: unknown position {position!r} (next, current, previous, next-next)")
    a, b, off = POSITIONS[position]
    j0, j1 = a, length + b
    return j0, max(j1, j0), off


def _norm_of_module(m):
    name = type(m).__name__.lower()
    eps = None
    for attr in ("eps", "variance_epsilon", "epsilon"):
        v = getattr(m, attr, None)
        if isinstance(v, (int, float)):
            eps = float(v)
            break
    if "rms" in name:
        return "rmsnorm", eps
    if "layernorm" in name or "layer_norm" in name:
        return "layernorm", eps
    return None, eps


def fresh_norm(model):
    """(kind, eps) of the fresh norm `layerlaw run --norm initialized` puts on
    every entry but the last: the model's own final norm's kind and eps
    ("none" for the post-LN and encoder families bert, roberta, openai-gpt, t5)."""
    cfg = getattr(model, "config", None)
    mt = getattr(cfg, "model_type", None)
    if mt in _NO_FRESH:
        return "none", 0.0
    bases = [getattr(model, "base_model", None), model]
    for b in bases:
        if b is None:
            continue
        for nm in _FINAL_NORM_NAMES:
            m = getattr(b, nm, None)
            if m is not None:
                kind, eps = _norm_of_module(m)
                if kind:
                    return kind, eps if eps is not None else 1e-5
    if cfg is not None:
        for attr, kind in (("rms_norm_eps", "rmsnorm"), ("layer_norm_epsilon", "layernorm"),
                           ("layer_norm_eps", "layernorm"), ("norm_epsilon", "layernorm")):
            v = getattr(cfg, attr, None)
            if isinstance(v, (int, float)):
                return kind, float(v)
    raise ValueError("norm='initialized': cannot tell this model's norm (no final norm module and no *_eps in its "
                     "config); pass norm='layernorm' / 'rmsnorm' with eps=")


def _sequences(sequences):
    if isinstance(sequences, (str, os.PathLike)):
        out = []
        with open(sequences, encoding="utf-8") as f:
            for k, line in enumerate(f, 1):
                if line.strip():
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        raise ValueError(f"{os.fspath(sequences)}:{k}: not a JSON array of token ids") from None
        sequences = out
    seqs = []
    for i, s in enumerate(sequences):
        if type(s).__module__.split(".")[0] == "torch":
            s = s.detach().cpu().numpy()
        a = np.asarray(s)
        if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
            raise ValueError(f"sequences[{i}]: not a list of integer token ids")
        seqs.append(a.astype(np.int64))
    return seqs


def _vocab_size(model):
    cfg = getattr(model, "config", None)
    v = getattr(cfg, "vocab_size", None)
    try:
        emb = model.get_input_embeddings()
        v = max(v or 0, emb.weight.shape[0])
    except Exception:  # noqa: BLE001 - models without input embeddings
        pass
    return v


def _select(position, lens, T):
    """rows (b*T + j) and label positions of a right-padded batch, in ll_capture_select's order."""
    rows, labs = [], []
    for b, L in enumerate(lens):
        j0, j1, off = position_range(position, L)
        j = np.arange(j0, j1)
        rows.append(b * T + j)
        labs.append(b * T + j + off)
    return np.concatenate(rows) if rows else np.zeros(0, np.int64), np.concatenate(labs) if labs else np.zeros(0, np.int64)


def measure(model, sequences, *, position="next", norm="initialized", eps=None, norm_last=False, batch_size=8,
            device=None, fit_from=1, ridge=0.0, max_length=512, threads=0, batch_rows=2048, progress=False):
    """The authors' pipeline on an HF transformers model: every batch of
    sequences (lists of token ids, or a tokens file of one JSON array per
    line) is forwarded with ``output_hidden_states=True`` (right-padded, with
    an attention mask), the examples of ``position`` selected (next: the
    feature at j predicts token j+1), and streamed into a Stats — never all
    features at once.  Sequences longer than ``max_length`` are cut to their
    first max_length tokens (512, as `layerlaw run --max-length`; None: no
    cut).  norm: "initialized" (the model's own kind and eps,
    ``fresh_norm(model)``, on every entry but the last, as ``layerlaw run``),
    or none / layernorm / rmsnorm / standardize (with ``eps``).
    Returns the Result (config records the model and the settings)."""
    import torch

    seqs = _sequences(sequences)
    if max_length:
        seqs = [s[:max_length] for s in seqs]
    if not seqs:
        raise ValueError("sequences: none given")
    vocab = _vocab_size(model)
    for i, s in enumerate(seqs):
        if s.size and (s.min() < 0 or (vocab and s.max() >= vocab)):
            bad = int(s[(s < 0) | (s >= (vocab or np.iinfo(np.int64).max))][0])
            raise ValueError(f"sequences[{i}]: token id {bad} is outside the vocabulary (size {vocab})")
    if norm == "initialized":
        kind, k_eps = fresh_norm(model)
        n_eps = k_eps if eps is None else eps
    elif norm in NORMS:
        kind, n_eps = norm, 1e-5 if eps is None else eps
    else:
        raise ValueError(f"norm: unknown norm {norm!r} (initialized, none, layernorm, rmsnorm, standardize)")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: {batch_size!r} is not a positive integer")
    position_range(position, 2)  # checks the name
    if device is None:
        try:
            device = next(model.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
    device = torch.device(device)
    was_training = model.training
    model.eval()
    st = None
    done = 0
    try:
        with torch.no_grad():
            for b0 in range(0, len(seqs), batch_size):
                batch = seqs[b0:b0 + batch_size]
                lens = [len(s) for s in batch]
                T = max(lens)
                if T == 0:
                    continue
                ids = np.zeros((len(batch), T), dtype=np.int64)
                mask = np.zeros((len(batch), T), dtype=np.int64)
                for b, s in enumerate(batch):
                    ids[b, :len(s)] = s
                    mask[b, :len(s)] = 1
                out = model(input_ids=torch.from_numpy(ids).to(device), attention_mask=torch.from_numpy(mask).to(device),
                            output_hidden_states=True)
                hs = getattr(out, "hidden_states", None)
                if hs is None and isinstance(out, (tuple, list)):
                    hs = out[-1]
                if hs is None:
                    raise ValueError("model: its output has no hidden_states (output_hidden_states=True); "
                                     "use layerlaw.capture on its layers instead")
                rows, labpos = _select(position, lens, T)
                if rows.size == 0:
                    continue
                labels = ids.reshape(-1)[labpos]
                ridx = torch.from_numpy(rows)
                # each entry where it is (a model split over devices), the selected rows to the host
                feats = [h.reshape(-1, h.shape[-1]).index_select(0, ridx.to(h.device)).float().cpu() for h in hs]
                if st is None:
                    st = Stats(len(hs), feats[0].shape[1], norm=kind, eps=n_eps, norm_last=norm_last,
                               vocab_size=vocab, threads=threads, batch_rows=batch_rows)
                st.add(feats, labels)
                done += len(batch)
                if progress:
                    print(f"\rlayerlaw: {done}/{len(seqs)} sequences, {st.n_examples} examples", end="", flush=True)
    finally:
        if was_training:
            model.train()
    if progress:
        print()
    if st is None:
        raise ValueError(f"sequences: no examples at position {position!r} (sequences too short)")
    res = st.solve(fit_from=fit_from, ridge=ridge)
    name = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
    res.config.update({"api": "measure", "model": str(name), "position": position,
                       "norm": "initialized" if norm == "initialized" else kind, "norm_kind": kind, "eps": n_eps,
                       "batch_size": batch_size, "sequences": len(seqs), "device": str(device)})
    mt = getattr(getattr(model, "config", None), "model_type", None)
    res.extra = {"model": {"dir": str(name), "model_type": mt or type(model).__name__,
                           "n_params": int(sum(p.numel() for p in model.parameters()))}}
    return res


class Capture:
    """Forward hooks on a list of modules (one entry each, in list order)
    feeding a Stats: the output of each module (a tensor, or the first element
    of a tuple) of shape (B, T, d) or (n, d).  Use::

        cap = layerlaw.capture(model.model.layers, norm="rmsnorm", eps=1e-6)
        for ids in batches:                    # (B, T) token ids
            with cap.batch(ids, lengths=None): # labels and positions of this forward
                model(ids)
        cap.remove(); result = cap.solve()

    Without ``batch`` (modules that see (n, d) rows), ``cap.labels(y)`` gives the
    (n,) labels of the next forward's rows instead."""

    def __init__(self, modules, *, norm="none", eps=1e-5, norm_last=False, position="next", vocab_size=None,
                 threads=0, batch_rows=2048):
        modules = list(modules)
        if not modules:
            raise ValueError("capture: no modules")
        if norm not in NORMS:
            raise ValueError(f"norm: unknown norm {norm!r} (none, layernorm, rmsnorm, standardize)")
        position_range(position, 2)
        self.modules, self.norm, self.eps, self.norm_last = modules, norm, eps, norm_last
        self.position, self.vocab_size, self.threads, self.batch_rows = position, vocab_size, threads, batch_rows
        self.stats = None
        self._out = [None] * len(modules)
        self._ctx = None
        self._handles = [m.register_forward_hook(self._hook(k)) for k, m in enumerate(modules)]

    def _hook(self, k):
        def hook(module, inputs, output):
            if self._ctx is None:
                return
            h = output[0] if isinstance(output, (tuple, list)) else output
            self._out[k] = h.detach()
        return hook

    def batch(self, ids, lengths=None):
        """Context for one forward: ids (B, T) (numpy or torch), lengths (B,)
        the real length of each row (default: all T)."""
        if type(ids).__module__.split(".")[0] == "torch":
            ids = ids.detach().cpu().numpy()
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ValueError(f"ids: shape {ids.shape} dtype {ids.dtype}, expected (B, T) integer token ids")
        lens = [ids.shape[1]] * ids.shape[0] if lengths is None else [int(x) for x in lengths]
        rows, labpos = _select(self.position, lens, ids.shape[1])
        return _Batch(self, rows, ids.reshape(-1)[labpos].astype(np.int64))

    def labels(self, y):
        """Labels of the rows of the next forward (modules whose output is (n, d)): a context."""
        y = np.asarray(y)
        return _Batch(self, None, y.astype(np.int64))

    def _fold(self, rows, labels):
        import torch
        outs, self._out = self._out, [None] * len(self.modules)
        missing = [k for k, o in enumerate(outs) if o is None]
        if missing:
            raise ValueError(f"capture: module {missing[0]} did not run in this forward")
        feats = []
        for o in outs:
            o2 = o.reshape(-1, o.shape[-1])
            if rows is not None:
                if o.ndim != 3:
                    raise ValueError(f"capture: module output of shape {tuple(o.shape)}, expected (B, T, d)")
                o2 = o2.index_select(0, torch.from_numpy(rows).to(o2.device))
            feats.append(o2.float().cpu() if o2.dtype not in (torch.float32, torch.float64) or o2.device.type != "cpu"
                         else o2)
        if self.stats is None:
            self.stats = Stats(len(feats), feats[0].shape[1], norm=self.norm, eps=self.eps, norm_last=self.norm_last,
                               vocab_size=self.vocab_size, threads=self.threads, batch_rows=self.batch_rows)
        self.stats.add(feats, labels)

    def remove(self):
        """Removes the hooks (the statistics stay)."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def solve(self, fit_from=1, ridge=0.0):
        if self.stats is None:
            raise ValueError("capture: nothing captured yet")
        res = self.stats.solve(fit_from=fit_from, ridge=ridge)
        res.config.update({"api": "capture", "position": self.position})
        return res

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _Batch:
    def __init__(self, cap, rows, labels):
        self.cap, self.rows, self.labels = cap, rows, labels

    def __enter__(self):
        self.cap._ctx = self
        self.cap._out = [None] * len(self.cap.modules)
        return self

    def __exit__(self, et, ev, tb):
        self.cap._ctx = None
        if et is None:
            self.cap._fold(self.rows, self.labels)
        else:
            self.cap._out = [None] * len(self.cap.modules)


def capture(modules, **kw):
    """Forward hooks on any list of PyTorch modules feeding a Stats (see Capture)."""
    return Capture(modules, **kw)
