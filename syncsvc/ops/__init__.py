"""Operations: CLI, demo, process plumbing, worker and gunicorn settings.

PUBLIC is the package's surface: the CLI's ``main`` (the ``syncsvc`` console script). Nothing
else imports the ops layer.
"""

PUBLIC: dict[str, tuple[str, ...]] = {"syncsvc.ops.cli": ("main",)}
