"""Adapters: the MongoDB implementations of the handlers' ports, the bundled reference data, and
HXL files in and out."""
