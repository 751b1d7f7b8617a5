"""kitflow distribution service: event-built views, the allocation planner, plans, 5W reports."""

__version__ = "0.1.0"
SERVICE = "distribution"
