"""`pip install .` in a clean virtual environment, then `import layerlaw`
works (numpy its only requirement), the installed `layerlaw` script is the
command line; `pip wheel .` makes a platform wheel carrying the library.
The build is `make shared` in the repository (already made by
scripts/test-python.sh: here only linked and copied); LAYERLAW_BUILD /
LAYERLAW_CUDA pass through to it."""
import os
import pathlib
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_pip_install_in_a_clean_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LAYERLAW_LIB", "VIRTUAL_ENV")}
    p = subprocess.run([str(py), "-m", "pip", "install", "-q", str(ROOT)], capture_output=True, text=True, env=env,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    code = ("import layerlaw, numpy as np, sys\n"
            "assert layerlaw.__file__.startswith(sys.prefix), layerlaw.__file__\n"
            "rng = np.random.default_rng(0)\n"
            "F = rng.standard_normal((500, 3, 8), dtype=np.float32); Y = rng.integers(0, 50, 500)\n"
            "r = layerlaw.Stats(3, 8, norm='layernorm').add(F, Y).solve()\n"
            "print(len(r.pr), r.law is not None, layerlaw._lib.path)\n")
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    n, has_law, lib = r.stdout.split()
    assert n == "3" and has_law == "True" and lib.startswith(str(venv))      # the library inside the package
    # what was installed: numpy only besides layerlaw (and pip's own)
    frz = subprocess.run([str(py), "-m", "pip", "freeze"], capture_output=True, text=True, env=env).stdout
    names = sorted(l.split("==")[0].split(" @ ")[0].lower() for l in frz.splitlines() if l)
    assert names == ["layerlaw", "numpy"], names
    v = subprocess.run([str(venv / "bin" / "layerlaw"), "--version"], capture_output=True, text=True, env=env)
    assert v.returncode == 0 and v.stdout.startswith("layerlaw ")
    w = subprocess.run([str(py), "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)],
                       capture_output=True, text=True, env=env, cwd=tmp_path)
    assert w.returncode == 0, w.stderr[-3000:]
    wheels = list((tmp_path / "dist").glob("layerlaw-*.whl"))
    assert len(wheels) == 1 and wheels[0].name.endswith("-py3-none-linux_x86_64.whl"), wheels
    assert "layerlaw/liblayerlaw.so" in zipfile.ZipFile(wheels[0]).namelist()
