"""Helpers every test folder shares: the reference material, waiting, strict CRD schemas, seeding.

``test/`` is on ``sys.path`` (pytest's ``pythonpath`` option in ``pyproject.toml``), so test modules
import these as ``from support.waiting import wait_until``. Nothing here imports a test folder.
"""
