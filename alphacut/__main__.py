"""``python -m alphacut``."""

from alphacut.cli import main

raise SystemExit(main())
