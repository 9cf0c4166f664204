"""Patients and their sick-leave cases (built on the protection core)."""
