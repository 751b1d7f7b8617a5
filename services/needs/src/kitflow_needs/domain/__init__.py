"""The needs domain: plain Python, no I/O. Aggregates record the events of their own changes."""
