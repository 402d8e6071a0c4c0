"""Builds build/liblayerlaw.so with the project's Makefile (`make shared`) and
puts it inside the package (layerlaw/liblayerlaw.so).  Settings from the
environment: LAYERLAW_CUDA=0|1 (default: the Makefile's choice, CUDA when nvcc
is found), CUDA_ARCH (e.g. 90: one GPU generation, a faster build),
LAYERLAW_BUILD (the build folder, default build), LAYERLAW_JOBS (make -j)."""
import os
import pathlib
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # older setuptools
    from wheel.bdist_wheel import bdist_wheel

ROOT = pathlib.Path(__file__).resolve().parent


class BuildWithMake(build_py):
    def run(self):
        build = os.environ.get("LAYERLAW_BUILD", "build")
        jobs = os.environ.get("LAYERLAW_JOBS", str(os.cpu_count() or 2))
        cmd = ["make", "-C", str(ROOT), f"BUILD={build}", f"-j{jobs}", "shared"]
        if os.environ.get("LAYERLAW_CUDA") in ("0", "1"):
            cmd.append("CUDA=" + os.environ["LAYERLAW_CUDA"])
        if os.environ.get("CUDA_ARCH"):
            cmd.append("CUDA_ARCH=" + os.environ["CUDA_ARCH"])
        subprocess.check_call(cmd)
        super().run()
        dst = pathlib.Path(self.build_lib) / "layerlaw"
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / build / "liblayerlaw.so", dst / "liblayerlaw.so")


class BinaryDistribution(Distribution):
    def has_ext_modules(self):  # a platform wheel: it carries a shared object
        return True


class Wheel(bdist_wheel):
    def get_tag(self):  # the shared object is loaded with ctypes: any CPython 3, this platform
        _, _, plat = super().get_tag()
        return "py3", "none", plat


# setuptools' own build files stay under build/python (it must exist: egg_info
# refuses a missing egg_base, as in a fresh clone)
PYBUILD = ROOT / "build" / "python"
PYBUILD.mkdir(parents=True, exist_ok=True)
setup(cmdclass={"build_py": BuildWithMake, "bdist_wheel": Wheel}, distclass=BinaryDistribution,
      options={"build": {"build_base": str(PYBUILD)}, "egg_info": {"egg_base": str(PYBUILD)}})
