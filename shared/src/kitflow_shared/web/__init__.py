"""FastAPI building blocks every service shares: problem+json, health, metrics, caller identity."""
