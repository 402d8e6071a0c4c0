"""layerlaw.Stats against `layerlaw fit` (the oracle of the same arithmetic: the
binary's layers.csv, %.17g) bit for bit, and numpy's exact least squares."""
import csv
import pathlib
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))  # the package of this work tree (library: LAYERLAW_LIB or build/)
import layerlaw  # noqa: E402

N, E, D = 5000, 4, 16


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    rng = np.random.default_rng(7)
    F = rng.standard_normal((N, E, D)).astype(np.float32)
    F[:, 1:] += 0.8 * F[:, :1]          # entries that share information
    Y = (np.abs(F[:, 2, :3].sum(1)) * 40).astype(np.int64) % 97
    d = tmp_path_factory.mktemp("fit")
    np.save(d / "F.npy", F)
    np.save(d / "Y.npy", Y)
    return d, F, Y


def fit_rows(layerlaw_bin, d, name, *args):
    out = d / name
    p = subprocess.run([str(layerlaw_bin), "fit", "--features", str(d / "F.npy"), "--labels", str(d / "Y.npy"),
                        "--out", str(out), "--quiet", *args], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return list(csv.DictReader(open(out / "layers.csv")))


def assert_bitwise(rows, r):
    assert len(rows) == r.entries
    for e, row in enumerate(rows):
        got = (r.pr[e], r.rss[e], r.tss[e], int(r.rank[e]))
        want = (float(row["pr"]), float(row["rss"]), float(row["tss"]), int(row["rank"]))
        assert got == want, f"entry {e}: {got} != fit {want}"


@pytest.mark.parametrize("norm", ["layernorm", "none", "rmsnorm", "standardize"])
def test_stats_equals_fit_bitwise(layerlaw_bin, arrays, norm):
    d, F, Y = arrays
    rows = fit_rows(layerlaw_bin, d, "fit-" + norm, "--norm", norm)
    # one call
    assert_bitwise(rows, layerlaw.Stats(E, D, norm=norm).add(F, Y).solve())
    # adds of odd sizes, (N, E, d) and lists of (N, d) views: the same blocks of 2048, the same bits
    st = layerlaw.Stats(E, D, norm=norm)
    for a, b in [(0, 1), (1, 1000), (1000, 3001), (3001, 5000)]:
        if a % 2:
            st.add([F[a:b, e] for e in range(E)], Y[a:b])
        else:
            st.add(F[a:b], Y[a:b])
    assert st.n_examples == N
    assert_bitwise(rows, st.solve())


def test_stats_dtypes_and_settings(layerlaw_bin, arrays):
    d, F, Y = arrays
    # float16 and float64 files against the same arrays
    for dt in (np.float16, np.float64):
        dd = d / np.dtype(dt).name
        dd.mkdir(exist_ok=True)
        np.save(dd / "F.npy", F.astype(dt))
        np.save(dd / "Y.npy", Y.astype(np.int32))
        rows = fit_rows(layerlaw_bin, dd, "out", "--norm", "layernorm", "--eps", "1e-3", "--norm-last",
                        "--ridge", "0.5", "--batch-rows", "700")
        st = layerlaw.Stats(E, D, norm="layernorm", eps=1e-3, norm_last=True, batch_rows=700, threads=1)
        assert_bitwise(rows, st.add(F.astype(dt), Y.astype(np.int32)).solve(ridge=0.5))


def test_stats_torch_tensors(layerlaw_bin, arrays):
    torch = pytest.importorskip("torch")
    d, F, Y = arrays
    rows = fit_rows(layerlaw_bin, d, "fit-torch", "--norm", "rmsnorm")
    t = torch.from_numpy(F)
    assert_bitwise(rows, layerlaw.Stats(E, D, norm="rmsnorm").add(t, torch.from_numpy(Y)).solve())
    # a non-contiguous view (entries reversed twice) and per-entry slices of a (N, d) tensor
    st = layerlaw.Stats(E, D, norm="rmsnorm").add([t[:, e] for e in range(E)], Y)
    assert_bitwise(rows, st.solve())
    # bfloat16: fit of the same values in float32 (the conversion is exact)
    tb = t.to(torch.bfloat16)
    Fb = tb.float().numpy()
    db = d / "bf16"
    db.mkdir(exist_ok=True)
    np.save(db / "F.npy", Fb)
    np.save(db / "Y.npy", Y)
    rows_b = fit_rows(layerlaw_bin, db, "out", "--norm", "none")
    assert_bitwise(rows_b, layerlaw.Stats(E, D).add(tb, Y).solve())


def test_stats_against_numpy_lstsq(arrays):
    """PR = RSS/TSS of OLS with intercept (numpy's lstsq, an independent solve)."""
    _, F, Y = arrays
    r = layerlaw.Stats(E, D).add(F, Y).solve()
    y = Y.astype(np.float64)
    for e in range(E):
        X = np.hstack([F[:, e].astype(np.float64), np.ones((N, 1))])
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        pr = ((y - X @ beta) ** 2).sum() / ((y - y.mean()) ** 2).sum()
        assert abs(r.pr[e] - pr) < 1e-10, (e, r.pr[e], pr)


def test_merge_and_pickle(arrays):
    _, F, Y = arrays
    whole = layerlaw.Stats(E, D, norm="layernorm").add(F, Y).solve()
    a = layerlaw.Stats(E, D, norm="layernorm").add(F[:1234], Y[:1234])
    b = layerlaw.Stats(E, D, norm="layernorm").add(F[1234:], Y[1234:])
    b2 = pickle.loads(pickle.dumps(b))        # a shard from another process
    assert b2.n_examples == b.n_examples
    assert np.array_equal(b2.solve().pr, b.solve().pr)
    a.merge(b2)
    assert a.n_examples == N
    m = a.solve()
    # Chan's merge: equal to one pass up to rounding (float64)
    assert np.allclose(m.pr, whole.pr, rtol=1e-12, atol=0), (m.pr, whole.pr)
    with pytest.raises(layerlaw.Error, match="different"):
        a.merge(layerlaw.Stats(E, D, norm="none"))


def test_errors_name_the_problem(arrays):
    _, F, Y = arrays
    st = layerlaw.Stats(E, D, vocab_size=97)
    with pytest.raises(ValueError, match=r"shape \(10, 4, 15\), expected \(N, 4, 16\)"):
        st.add(F[:10, :, :15], Y[:10])
    with pytest.raises(ValueError, match="dtype int32 is not a float type"):
        st.add(F[:10].astype(np.int32), Y[:10])
    with pytest.raises(ValueError, match=r"labels: shape \(9,\), expected \(10,\)"):
        st.add(F[:10], Y[:9])
    with pytest.raises(ValueError, match="labels: dtype float64"):
        st.add(F[:10], Y[:10].astype(np.float64))
    bad = Y[:10].copy()
    bad[3] = 97
    with pytest.raises(ValueError, match="token id 97 of example 3 is outside the vocabulary"):
        st.add(F[:10], bad)
    bad[3] = -1
    with pytest.raises(ValueError, match="token id -1 of example 3 is negative"):
        st.add(F[:10], bad)
    with pytest.raises(ValueError, match=r"3 arrays, expected 4"):
        st.add([F[:10, e] for e in range(3)], Y[:10])
    st.add(F[:100], Y[:100])
    before = st.solve().pr
    Fn = F[100:200].copy()
    Fn[17, 2, 5] = np.nan
    Fn[40, 1, 0] = np.inf
    with pytest.raises(ValueError, match=r"example 17, entry 2: non-finite value"):
        st.add(Fn, Y[100:200])
    assert st.n_examples == 100 and np.array_equal(st.solve().pr, before)  # nothing was added
    with pytest.raises(ValueError, match="norm: unknown norm"):
        layerlaw.Stats(E, D, norm="batchnorm")
    with pytest.raises(ValueError, match="target"):
        layerlaw.Stats(E, D, target="onehot")
    with pytest.raises(ValueError, match="labels are constant"):
        layerlaw.Stats(E, D).add(F[:50], np.zeros(50, np.int64)).solve()
    with pytest.raises(ValueError, match="at least 2 examples"):
        layerlaw.Stats(E, D).add(F[:1], Y[:1]).solve()
    with pytest.raises(MemoryError):
        layerlaw.Stats(1000, 1 << 20)


def test_gil_released_while_adding():
    """Another Python thread runs while the library folds (ctypes releases the GIL):
    with the GIL held, no bytecode of another thread could run inside the call."""
    import time
    rng = np.random.default_rng(1)
    F = rng.standard_normal((16384, 8, 256)).astype(np.float32)
    Y = rng.integers(0, 1000, 16384)
    st = layerlaw.Stats(8, 256, norm="layernorm", threads=1)
    stamps = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            stamps.append(time.perf_counter())
    t = threading.Thread(target=spin)
    t.start()
    try:
        t0 = time.perf_counter()
        st.add(F, Y)              # one call into the library
        t1 = time.perf_counter()
    finally:
        stop.set()
        t.join()
    assert t1 - t0 > 0.15, "the add was too short to tell"
    inside = [s for s in stamps if t0 + 0.05 < s < t1 - 0.05]
    assert inside, f"no other thread ran during the {t1 - t0:.2f} s call: the GIL was held"


def test_cuda_tensors_device_statistics():
    """CUDA tensors go to the library's CUDA statistics when it has the CUDA
    backend and a device (then: equal to the CPU statistics to float64
    rounding; the device solve is not used); elsewhere the device call
    refuses in one line, without touching the pointers."""
    import ctypes
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    F = rng.standard_normal((3000, 3, 32)).astype(np.float32)
    Y = rng.integers(0, 300, 3000)
    if layerlaw.cuda_compiled() and torch.cuda.is_available():
        host = layerlaw.Stats(3, 32, norm="layernorm").add(F, Y).solve()
        dev = layerlaw.Stats(3, 32, norm="layernorm").add(torch.from_numpy(F).cuda(), torch.from_numpy(Y).cuda()).solve()
        assert np.allclose(dev.pr, host.pr, rtol=1e-9, atol=0), (dev.pr, host.pr)
        return
    st = layerlaw.Stats(3, 32)
    nul = (ctypes.c_void_p * 3)(None, None, None)
    y = np.arange(5, dtype=np.int64)
    rc = layerlaw._lib.lib.ll_api_stats_add_device(st._h, 0, nul, y.ctypes.data, 5)
    assert rc == -1 and "cuda" in layerlaw._lib.last_error().lower(), layerlaw._lib.last_error()
    assert st.n_examples == 0


def test_threads_share_one_stats_and_merge(arrays):
    """Adds from several threads to one Stats take turns (nothing lost); one
    Stats per thread merged gives the same PRs to float64 rounding."""
    _, F, Y = arrays
    whole = layerlaw.Stats(E, D, norm="rmsnorm").add(F, Y).solve()
    shared = layerlaw.Stats(E, D, norm="rmsnorm", threads=1)
    parts = [layerlaw.Stats(E, D, norm="rmsnorm", threads=1) for _ in range(4)]
    cuts = np.linspace(0, N, 9).astype(int)

    def work(k):
        for j in (2 * k, 2 * k + 1):
            shared.add(F[cuts[j]:cuts[j + 1]], Y[cuts[j]:cuts[j + 1]])
            parts[k].add(F[cuts[j]:cuts[j + 1]], Y[cuts[j]:cuts[j + 1]])
    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert shared.n_examples == N
    assert np.allclose(shared.solve().pr, whole.pr, rtol=1e-12, atol=0)
    for p in parts[1:]:
        parts[0].merge(p)
    assert np.allclose(parts[0].solve().pr, whole.pr, rtol=1e-12, atol=0)
