"""kitflow gateway: the one public API (identity, roles, isolation) and the dashboard."""

__version__ = "0.1.0"
SERVICE = "gateway"
