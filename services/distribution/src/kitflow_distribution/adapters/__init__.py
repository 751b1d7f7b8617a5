"""Adapters: the MongoDB implementations of the handlers' ports."""
