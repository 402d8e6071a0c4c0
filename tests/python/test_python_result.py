"""Result: save() writes law.json + layers.csv as `layerlaw fit` does, load()
reads them back, the law's numbers (spearman_rho against scipy)."""
import csv
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
import layerlaw  # noqa: E402


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, layerlaw_bin):
    rng = np.random.default_rng(3)
    N, E, D = 3000, 6, 12
    F = rng.standard_normal((N, E, D)).astype(np.float32)
    for e in range(1, E):
        F[:, e] += 0.5 * F[:, e - 1]
    Y = (np.abs(F[:, -1, :2].sum(1)) * 30).astype(np.int64) % 61
    d = tmp_path_factory.mktemp("res")
    np.save(d / "F.npy", F)
    np.save(d / "Y.npy", Y)
    p = subprocess.run([str(layerlaw_bin), "fit", "--features", str(d / "F.npy"), "--labels", str(d / "Y.npy"),
                        "--out", str(d / "cli"), "--quiet", "--norm", "layernorm", "--fit-from", "2"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    r = layerlaw.Stats(E, D, norm="layernorm").add(F, Y).solve(fit_from=2)
    return d, r


def test_save_matches_the_cli(fitted):
    d, r = fitted
    out = r.save(d / "py")
    cli = json.loads((d / "cli" / "law.json").read_text())
    py = json.loads((out / "law.json").read_text())
    assert py["layers"] == cli["layers"]
    assert py["fit"] == cli["fit"]
    for k in ("n_examples", "n_entries", "dim", "examples_per_feature", "layerlaw_version"):
        assert py[k] == cli[k], k
    for k in ("norm", "eps", "norm_last", "fit_from", "ridge", "target", "measure"):
        assert py["config"][k] == cli["config"][k], k
    rows_c = list(csv.DictReader(open(d / "cli" / "layers.csv")))
    rows_p = list(csv.DictReader(open(out / "layers.csv")))
    assert list(rows_p[0]) == list(rows_c[0])          # the same columns
    for a, b in zip(rows_p, rows_c):
        for k in a:
            if k not in ("run_id", "model"):
                assert a[k] == b[k], (k, a[k], b[k])
    # the figure beside them (gnuplot is in the set-up)
    assert (out / "law.png").stat().st_size > 1000 and (out / "law.svg").is_file()


def test_load_roundtrip_and_law(fitted):
    d, r = fitted
    c = layerlaw.load(d / "cli")
    assert c.entries == r.entries == 6 and c.n_examples == r.n_examples == 3000 and c.dim == 12
    assert np.array_equal(c.pr, r.pr)            # %.17g / cJSON's round trip
    for k in ("slope", "intercept", "r2", "pearson_r", "decay_ratio", "overall_ratio"):
        assert c.law[k] == pytest.approx(r.law[k], rel=1e-14), k
    assert r.law["first_entry"] == 2 and r.law["n_points"] == 4
    scipy_stats = pytest.importorskip("scipy.stats")
    rho = scipy_stats.spearmanr(np.arange(4), np.log10(r.pr[2:])).statistic
    assert r.law["spearman_rho"] == pytest.approx(rho, abs=1e-12)
    # a loaded result saves the same bytes
    out = c.save(d / "again", figure=False)
    assert (out / "law.json").read_bytes() == (d / "cli" / "law.json").read_bytes()
    assert (out / "layers.csv").read_bytes() == (d / "cli" / "layers.csv").read_bytes()
    # a folder of results: a list
    lst = layerlaw.load(d)
    assert sorted(x.path.parent.name for x in lst) == ["again", "cli", "py"]
    with pytest.raises(ValueError, match="law.json"):
        layerlaw.load(d / "F.npy")


def test_spearman_ties():
    scipy_stats = pytest.importorskip("scipy.stats")
    x = np.array([3.0, 1.0, 2.0, 2.0, 5.0, 1.0])
    y = np.array([1.0, 2.0, 2.0, 3.0, 1.0, 0.0])
    assert layerlaw.spearman(x, y) == pytest.approx(scipy_stats.spearmanr(x, y).statistic, abs=1e-14)


def test_table_pandas_and_plot(fitted, tmp_path):
    _, r = fitted
    t = r.table()
    assert "6 entries" in t and "(not in fit)" in t and "law (entries 2..5)" in t
    try:
        import pandas  # noqa: F401
        df = r.to_pandas()
        assert list(df["pr"]) == list(r.pr) and list(df["in_fit"]) == [False, False, True, True, True, True]
    except ImportError:
        with pytest.raises(ImportError, match="pandas"):
            r.to_pandas()
    try:
        import matplotlib
        matplotlib.use("Agg")
        ax = r.plot()
        assert len(ax.lines) == 3  # in the fit, not in the fit, the line
    except ImportError:
        png = r.plot(path=tmp_path / "fig")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
