"""Redis and history storage: caches, claims, locks, the run history, the Redis connection."""
