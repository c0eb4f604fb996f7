"""Package discovery for the one ``zeroserve`` namespace.

The top-level folders ``servers/``, ``controller/``, ``router/`` and ``logger/`` are installed as
``zeroserve.servers`` ... (``[tool.setuptools.package-dir]`` in pyproject.toml maps the folders);
this file names their packages accordingly, so nothing generic lands in site-packages.
"""

from setuptools import find_packages, setup

MAPPED_FOLDERS = ("servers", "controller", "router", "logger", "monitoring")

packages = find_packages(include=["zeroserve", "zeroserve.*"])
for folder in MAPPED_FOLDERS:
    packages.append(f"zeroserve.{folder}")
    packages += [f"zeroserve.{folder}.{sub}" for sub in find_packages(where=folder)]

setup(packages=packages)
