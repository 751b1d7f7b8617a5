"""The distribution domain: plain Python and numpy, no I/O."""
