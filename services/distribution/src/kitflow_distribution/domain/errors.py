"""What can go wrong in distribution, in terms a coordinator understands.

Every error a client sees is one of the five shared kinds (`kitflow_shared.errors`), which the
API answers the same way in every service; the ones here say more (their own slug).
"""

from __future__ import annotations

from kitflow_shared import errors as kinds
from kitflow_shared.errors import message


class DistributionError(kinds.KitflowError):
    """Base of every distribution domain error."""


class InvalidInput(DistributionError, kinds.InvalidInput):
    """A value breaks a business rule of plans; names the field and why."""


class NotPermitted(DistributionError, kinds.NotPermitted):
    """The caller's role or organisation does not allow this."""


class InvalidTransition(DistributionError, kinds.Conflict):
    """The plan is not in a state that allows this (approving a cancelled plan, ...)."""


class ConcurrentChange(DistributionError, kinds.ConcurrentChange):
    """Another writer changed the document between our read and our write; retry."""


class UnknownPlan(DistributionError, kinds.NotFound):
    def __init__(self, plan_id: str) -> None:
        super().__init__(message("no plan {plan_id!r}", plan_id=plan_id))
        self.plan_id = plan_id
