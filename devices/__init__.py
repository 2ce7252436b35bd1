"""Shipped device cards (YAML); installed as the package ``deephw.cards``."""
