"""``python -m blockkit`` runs the ``blockkit`` command (when the script is not on PATH)."""

from blockkit.cli import main

raise SystemExit(main())
