"""User and care-unit administration. Administrators never see patient data."""
