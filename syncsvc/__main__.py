"""``python -m syncsvc``."""

from syncsvc.ops.cli import main

main()
