"""depguard."""
