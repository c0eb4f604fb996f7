"""``python -m zeroserve`` runs the command line."""

from zeroserve.cli import main

raise SystemExit(main())
