"""layerlaw.run (the C pipeline in this process) against build/layerlaw, its
errors, and `python -m layerlaw` as the command line."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
import layerlaw  # noqa: E402

MODEL = ROOT / "configs" / "stories260K-hf"


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    p = tmp_path_factory.mktemp("tok") / "ids.jsonl"
    lines = (MODEL / "alice-200x128.tok512.jsonl").read_text().splitlines()[:40]
    p.write_text("\n".join(lines) + "\n")
    return p


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT / "python") + os.pathsep + e.get("PYTHONPATH", "")
    e["LAYERLAW_QUIET"] = "1"
    return e


def test_run_equals_the_binary(layerlaw_bin, tokens, tmp_path):
    """Bit for bit: the same code, built with the same flags (-fPIC objects for
    the library; an -O1 sanitizer build differs in the forward's last bits)."""
    p = subprocess.run([str(layerlaw_bin), "run", "--model", str(MODEL), "--tokens", str(tokens), "--out",
                        str(tmp_path / "cli"), "--quiet", "--backend", "cpu", "--position", "current"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    c = layerlaw.load(tmp_path / "cli")
    r = layerlaw.run(model=MODEL, tokens=tokens, out=tmp_path / "py", backend="cpu", position="current", threads=2)
    assert np.array_equal(r.pr, c.pr) and r.n_examples == c.n_examples
    assert json.loads((tmp_path / "py" / "law.json").read_text())["config"]["position"] == "current"
    # out=None: a temporary folder, removed; the result kept
    r2 = layerlaw.run(model=MODEL, tokens=tokens, backend="cpu", position="current", norm_last=True)
    assert r2.entries == 6 and not np.array_equal(r2.pr[-1], c.pr[-1])   # --norm-last changes the last entry


def test_run_errors(tokens, tmp_path):
    with pytest.raises(layerlaw.InputError, match="did you mean --batch-size"):
        layerlaw.run(model=MODEL, tokens=tokens, batch_sise=3)
    with pytest.raises(ValueError, match="no-such-folder"):
        layerlaw.run(model=tmp_path / "no-such-folder", tokens=tokens)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("[1, 2, 99999]\n")
    with pytest.raises(layerlaw.Error) as ei:
        layerlaw.run(model=MODEL, tokens=bad)
    assert ei.value.status == 2 and "99999" in str(ei.value)
    with pytest.raises(ValueError, match="exactly one of tokens"):
        layerlaw.run(model=MODEL)


def test_python_m_layerlaw(tokens, tmp_path):
    v = subprocess.run([sys.executable, "-m", "layerlaw", "--version"], capture_output=True, text=True, env=env())
    assert v.returncode == 0 and v.stdout.strip() == "layerlaw " + layerlaw.version()
    bad = subprocess.run([sys.executable, "-m", "layerlaw", "fitt"], capture_output=True, text=True, env=env())
    assert bad.returncode == 2 and "did you mean fit" in bad.stderr
    r = subprocess.run([sys.executable, "-m", "layerlaw", "run", "--model", str(MODEL), "--tokens", str(tokens),
                        "--out", str(tmp_path / "m"), "--backend", "cpu"], capture_output=True, text=True, env=env())
    assert r.returncode == 0, r.stderr
    assert "law (entries 1..5)" in r.stdout          # the table, on this process's stdout
    assert layerlaw.load(tmp_path / "m").entries == 6


def test_run_from_text(layerlaw_bin, tmp_path):
    """data= (raw text, tokenised by the C tokenizer) with --docs/--seed/--max-length: the binary's numbers."""
    args = ["--docs", "30", "--seed", "3", "--max-length", "64", "--backend", "cpu"]
    p = subprocess.run([str(layerlaw_bin), "run", "--model", str(MODEL), "--data", str(MODEL / "alice-200.jsonl"),
                        "--out", str(tmp_path / "cli"), "--quiet", *args], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    c = layerlaw.load(tmp_path / "cli")
    r = layerlaw.run(model=MODEL, data=MODEL / "alice-200.jsonl", docs=30, seed=3, max_length=64, backend="cpu")
    assert np.array_equal(r.pr, c.pr) and r.n_examples == c.n_examples > 0
