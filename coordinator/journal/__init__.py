"""The case journal and the access log: append-only, hash-chained, sealed with a derived key."""
