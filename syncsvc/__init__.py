"""syncsvc: the Katana MRP -> Luca Koza sync service."""
