"""blockkit: a compact, complete blockchain for teaching, and the course built on it."""

__version__ = "0.1.0"
