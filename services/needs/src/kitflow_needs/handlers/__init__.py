"""Command handlers: load one aggregate, call one domain method, store it with its events."""
