"""Domain rules: the error tree, the model, mapping and conversions (no I/O)."""
