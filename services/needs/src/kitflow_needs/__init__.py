"""kitflow needs service: partner needs with P-codes, quantities from norms, duplicates, HXL."""

__version__ = "0.1.0"
SERVICE = "needs"
