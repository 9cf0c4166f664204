"""External contacts: the shared directory of organisations and contact persons, the
consent-gated log of contacts about patients, and the patient's employer."""
