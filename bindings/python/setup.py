# SPDX-License-Identifier: Apache-2.0
"""The package's version comes from one place: the libaigw source tree's
top-level CMakeLists.txt, `project(aigw VERSION x.y.z ...)`. It is written
into the built package as aigw/_version.py (aigw.__version__). Built outside
the tree (from an sdist), the version is the sdist's own (PKG-INFO)."""

import os
import re

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def cmake_version():
    path = os.path.join(HERE, "..", "..", "CMakeLists.txt")
    try:
        with open(path, encoding="utf-8") as f:
            m = re.search(r"project\s*\(\s*aigw\s+VERSION\s+([0-9][0-9.]*)", f.read())
    except OSError:
        return None
    return m.group(1) if m else None


def sdist_version():
    try:
        with open(os.path.join(HERE, "PKG-INFO"), encoding="utf-8") as f:
            m = re.search(r"^Version:\s*(\S+)", f.read(), re.M)
    except OSError:
        return None
    return m.group(1) if m else None


VERSION = cmake_version() or sdist_version() or "0+unknown"


class BuildPy(build_py):
    """Also writes aigw/_version.py into the build."""

    def run(self):
        super().run()
        if not self.dry_run:
            target = os.path.join(self.build_lib, "aigw", "_version.py")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8") as f:
                f.write("# SPDX-License-Identifier: Apache-2.0\n"
                        "# Written by setup.py from CMakeLists.txt's project(VERSION).\n"
                        "__version__ = %r\n" % VERSION)


setup(
    version=VERSION,
    packages=["aigw"],
    package_data={"aigw": ["py.typed"]},
    cmdclass={"build_py": BuildPy},
)
