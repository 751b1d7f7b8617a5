"""kitflow stock service: warehouses, catalogue and kits, the ledger, balances, reservations."""

__version__ = "0.1.0"
SERVICE = "stock"
