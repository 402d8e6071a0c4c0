"""docs/python.md's notebook runs: every ```python block, in order, in one
namespace (as a notebook's cells), from a folder where configs/ is the
repository's; the table it prints is the one the page shows."""
import contextlib
import io
import pathlib
import re
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
import layerlaw  # noqa: E402,F401


def test_docs_python_md_runs(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    try:
        import matplotlib
        matplotlib.use("Agg")
    except ImportError:
        pass
    text = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    ns = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for k, b in enumerate(blocks):
            exec(compile(b, f"docs/python.md block {k + 1}", "exec"), ns)
    printed = out.getvalue().splitlines()
    # the page quotes the table: the counts exactly, the law's numbers to 1e-5
    # (PyTorch's float32 kernels differ in the last bits from one CPU to another)
    assert printed[0] in text, printed
    quoted = next(l for l in text.splitlines() if l.strip().startswith("law (entries"))
    num = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")
    got, want = [float(x) for x in num.findall(printed[-1])], [float(x) for x in num.findall(quoted)]
    assert len(got) == len(want) == 7 and np.allclose(got, want, rtol=1e-5, atol=1e-7), (printed[-1], quoted)
    res = ns["result"]
    assert res.entries == 6 and res.law["slope"] < 0 and res.law["pearson_r"] < -0.9
    assert (tmp_path / "results" / "stories260K-python" / "law.json").is_file()
    ax = ns["ax"]
    assert hasattr(ax, "lines") or pathlib.Path(ax).read_bytes()[:4] == b"\x89PNG"
    assert ns["res"].n_examples == 4096 and np.all(ns["res"].pr > 0)
    assert ns["captured"].entries == 6 and ns["r"].entries == 6
