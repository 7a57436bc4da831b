"""modelsel: choose an LLM with a measured, documented, repeatable decision."""

__version__ = "0.1.0"
