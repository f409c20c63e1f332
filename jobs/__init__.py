"""RQ entry points and the batch engine: what `rq worker sync` executes."""
