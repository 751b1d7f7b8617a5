"""Distribution: the planner and, later, plans and reports."""
