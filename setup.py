"""Package discovery for the one ``zeroserve`` namespace.

The top-level folders ``servers/``, ``controller/``, ``router/`` and ``logger/`` are installed as
``zeroserve.servers`` ... (``[tool.setuptools.package-dir]`` in pyproject.toml maps the folders);
this file names their packages accordingly, so nothing generic lands in site-packages.

An editable install of such a mapped layout goes through setuptools' meta path finder, which always
ends with an "Editable installation" notice: folders in the working directory named like a package
may shadow it. The only top-level package is ``zeroserve`` and the folder of that name is its own
source, so the notice cannot apply here; it is filtered by its class and text, nothing else.
"""

import warnings

from setuptools import find_packages, setup
from setuptools.warnings import InformationOnly

warnings.filterwarnings("ignore", message="Editable installation", category=InformationOnly)

MAPPED_FOLDERS = ("servers", "controller", "router", "logger", "monitoring")

packages = find_packages(include=["zeroserve", "zeroserve.*"])
for folder in MAPPED_FOLDERS:
    packages.append(f"zeroserve.{folder}")
    packages += [f"zeroserve.{folder}.{sub}" for sub in find_packages(where=folder)]

setup(packages=packages)
