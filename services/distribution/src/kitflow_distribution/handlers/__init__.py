"""Handlers: what distribution does with each command and each event it subscribes to."""
