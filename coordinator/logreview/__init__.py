"""Follow-up of the access log: search, sample checks, patient log extracts, chain status."""
