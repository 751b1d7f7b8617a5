"""Small checks on the source tree itself (run as `python -m tools.<name>`)."""
