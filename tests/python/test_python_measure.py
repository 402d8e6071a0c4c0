"""layerlaw.measure on an HF transformers model (the authors' pipeline:
output_hidden_states, a fresh norm of the model's own kind on every entry but
the last) against `layerlaw run` on the same checkpoint folder and token ids,
and layerlaw.capture (forward hooks) against measure.

Tolerance 1e-6 in every PR: both are float32 forwards of the same weights
(HF's PyTorch kernels against layerlaw's OpenBLAS ones) whose hidden states
differ by float32 rounding (~1e-7 relative); the statistics and solves are
float64.  Measured here: 9e-9 on stories260K."""
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
import layerlaw  # noqa: E402

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

MODEL = ROOT / "configs" / "stories260K-hf"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("measure")
    lines = (MODEL / "alice-200x128.tok512.jsonl").read_text().splitlines()[:60]
    (d / "ids.jsonl").write_text("\n".join(lines) + "\n")
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(MODEL), dtype=torch.float32)
    return d, model


@pytest.mark.parametrize("position", ["next", "previous"])
def test_measure_equals_run(layerlaw_bin, setup, position):
    d, model = setup
    out = d / ("run-" + position)
    p = subprocess.run([str(layerlaw_bin), "run", "--model", str(MODEL), "--tokens", str(d / "ids.jsonl"), "--out",
                        str(out), "--quiet", "--backend", "cpu", "--position", position], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    c = layerlaw.load(out)
    r = layerlaw.measure(model, str(d / "ids.jsonl"), position=position, batch_size=7)
    assert r.n_examples == c.n_examples and r.entries == c.entries == 6
    assert np.max(np.abs(r.pr - c.pr)) < 1e-6, (r.pr, c.pr)
    assert r.law["slope"] == pytest.approx(c.law["slope"], abs=1e-6)
    assert layerlaw.fresh_norm(model) == ("rmsnorm", 1e-5)
    assert r.config["norm"] == "initialized" and r.config["norm_kind"] == "rmsnorm"


def test_capture_equals_measure(setup):
    """Hooks on the modules whose outputs are HF's hidden states (embeddings,
    every layer but the last, the final norm) give measure's statistics: the
    same features in the same order, bit for bit."""
    d, model = setup
    seqs = [list(map(int, l.strip("[]\n").split(","))) for l in (d / "ids.jsonl").read_text().splitlines()[:21]]
    r = layerlaw.measure(model, seqs, batch_size=7)
    inner = model.model
    mods = [inner.embed_tokens, *inner.layers[:-1], inner.norm]
    with layerlaw.capture(mods, norm="rmsnorm", eps=1e-5) as cap:
        for b0 in range(0, len(seqs), 7):
            batch = seqs[b0:b0 + 7]
            T = max(map(len, batch))
            ids = torch.zeros((len(batch), T), dtype=torch.long)
            mask = torch.zeros_like(ids)
            for b, s in enumerate(batch):
                ids[b, :len(s)] = torch.tensor(s)
                mask[b, :len(s)] = 1
            with cap.batch(ids, lengths=[len(s) for s in batch]), torch.no_grad():
                model(input_ids=ids, attention_mask=mask)
    c = cap.solve()
    assert np.array_equal(c.pr, r.pr), (c.pr, r.pr)
    assert not inner.norm._forward_hooks         # the hooks are gone


def test_measure_errors(setup):
    _, model = setup
    with pytest.raises(ValueError, match=r"sequences\[1\]: token id 512 is outside the vocabulary \(size 512\)"):
        layerlaw.measure(model, [[1, 2, 3], [4, 512]])
    with pytest.raises(ValueError, match="position: unknown position"):
        layerlaw.measure(model, [[1, 2, 3]], position="after")
    with pytest.raises(ValueError, match="no examples"):
        layerlaw.measure(model, [[5]])
    with pytest.raises(ValueError, match="norm: unknown norm"):
        layerlaw.measure(model, [[1, 2, 3]], norm="batch")


FAMILIES = ["gpt2", "neox_sequential", "neox_parallel", "llama_gqa", "llama_mlp_bias", "mistral", "qwen2", "qwen3",
            "phi", "phi3", "gemma", "gemma2", "openai-gpt", "mamba", "rwkv"]


@pytest.mark.parametrize("fam", FAMILIES)
def test_measure_equals_run_every_family(layerlaw_bin, tmp_path, fam):
    """Every causal family of tests/fixtures/models (random weights, 206
    examples of d=32): HF's forward + measure against `layerlaw run` on the
    same folder and ids, 1e-6 in every PR (measured: at most 6e-8); the fresh
    norm measure picks is run's (none for openai-gpt, post-LN)."""
    d = ROOT / "tests" / "fixtures" / "models" / fam
    p = subprocess.run([str(layerlaw_bin), "run", "--model", str(d), "--tokens", str(d / "tokens.jsonl"), "--out",
                        str(tmp_path / "run"), "--quiet", "--backend", "cpu"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    c = layerlaw.load(tmp_path / "run")
    model = transformers.AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32)
    r = layerlaw.measure(model, d / "tokens.jsonl", batch_size=4)
    assert r.n_examples == c.n_examples and r.entries == c.entries
    assert np.max(np.abs(r.pr - c.pr)) < 1e-6, (fam, r.pr, c.pr)


@pytest.mark.parametrize("first", ["layerlaw", "torch"])
def test_import_order_with_torch(first):
    """layerlaw then torch, or torch then layerlaw: both import and work (a
    library built with CUDA would otherwise hand its system CUDA libraries to
    torch by their shared names)."""
    import os
    other = "torch" if first == "layerlaw" else "layerlaw"
    code = (f"import {first}, {other}\n"
            "import numpy as np, torch\n"
            "r = layerlaw.Stats(2, 4).add(torch.randn(50, 2, 4), np.arange(50) % 7).solve()\n"
            "print(len(r.pr), torch.ones(2).sum().item())\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "python") + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["2", "2.0"]
