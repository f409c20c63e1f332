"""``python -m syncsvc``."""

from syncsvc.cli import main

main()
