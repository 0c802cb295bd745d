"""Builds the owf Python package from this source tree, offline.

The extension module owf._owf is built by the project's own CMake (the C++
library of this tree, linked statically into the module; Release), with
the interpreter running this script; the pure-Python modules and stubs in
owf/ are installed as they are. Needs cmake, a C++20 compiler, the
library's build dependencies (.ci/packages.txt) and pybind11 (Debian:
pybind11-dev, python3-pybind11). Debian's setuptools is enough:

    python3 -m venv --system-site-packages .venv && . .venv/bin/activate
    pip install --no-build-isolation --no-index ./python

CMAKE_BUILD_PARALLEL_LEVEL sets the build's parallelism (default: all
cores); CMAKE_CXX_COMPILER_LAUNCHER=ccache is honoured by CMake.
OWF_CMAKE_BUILD_DIR=DIR takes the module from an existing build tree of
this project (configured with the same Python) instead of configuring a
private one: CI does so to skip building the library twice.
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent


def version() -> str:
    text = (ROOT / "CMakeLists.txt").read_text()
    return re.search(r"project\(owf VERSION ([0-9.]+)", text).group(1)


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        target = pathlib.Path(self.get_ext_fullpath(ext.name)).resolve()
        build = pathlib.Path(os.environ.get("OWF_CMAKE_BUILD_DIR") or pathlib.Path(self.build_temp) / "cmake").resolve()
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build),
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DOWF_BUILD_PYTHON=ON", "-DOWF_BUILD_TOOLS=OFF", "-DOWF_BUILD_TESTS=OFF", "-DOWF_BUILD_EXAMPLES=OFF",
        ]
        if "OWF_CMAKE_BUILD_DIR" not in os.environ:
            subprocess.run(configure, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
        subprocess.run(["cmake", "--build", str(build), "--target", "owf_python", "-j", jobs], check=True)
        built = next((build / "python" / "owf").glob("_owf*" + os.path.splitext(target.name)[1]))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(
    version=version(),
    packages=["owf"],
    package_data={"owf": ["*.pyi", "py.typed"]},
    ext_modules=[Extension("owf._owf", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    zip_safe=False,
)
