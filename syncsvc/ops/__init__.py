"""Operations: CLI, demo, process plumbing, worker and gunicorn settings."""
