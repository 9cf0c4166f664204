"""Sign-in, users, care units and roles."""
