"""The version of monilog, in a module of its own so that anything may import it without a cycle."""

__version__ = "0.3.0"
