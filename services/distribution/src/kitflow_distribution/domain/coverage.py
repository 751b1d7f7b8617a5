"""Coverage of one need: what all plans together have planned, reserved, dispatched and
delivered for it, and how many households and people they reached.

Each plan contributes its own figures, replaced whenever a newer state of that plan arrives, so
a plan's repeated or late updates never count twice. The totals are what the needs service and
the 5W report show.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ItemProgress:
    planned: int = 0
    reserved: int = 0
    dispatched: int = 0
    delivered: int = 0

    def __add__(self, other: ItemProgress) -> ItemProgress:
        return ItemProgress(
            self.planned + other.planned,
            self.reserved + other.reserved,
            self.dispatched + other.dispatched,
            self.delivered + other.delivered,
        )


@dataclass(frozen=True)
class PlanContribution:
    plan_sequence: int
    items: dict[str, ItemProgress]
    households_reached: int = 0
    individuals_reached: int = 0


@dataclass(frozen=True)
class CoverageChanged:
    sequence: int


@dataclass
class NeedCoverage:
    need_id: str
    organisation: str
    contributions: dict[str, PlanContribution] = field(default_factory=dict)
    sequence: int = 0  # the coverage's version as published: +1 per change of the totals
    version: int = 0  # the stored document's version, for optimistic concurrency
    events: list[CoverageChanged] = field(default_factory=list, compare=False, repr=False)

    def totals(self) -> tuple[dict[str, ItemProgress], int, int]:
        items: dict[str, ItemProgress] = {}
        households = individuals = 0
        for contribution in self.contributions.values():
            for item, progress in contribution.items.items():
                items[item] = items.get(item, ItemProgress()) + progress
            households += contribution.households_reached
            individuals += contribution.individuals_reached
        return items, households, individuals

    def apply_plan(self, plan_id: str, contribution: PlanContribution) -> bool:
        """Take a plan's newer figures for this need; an older or repeated state changes
        nothing. Returns True when something is to be stored; an event is recorded only when
        the totals changed."""
        held = self.contributions.get(plan_id)
        if held is not None and held.plan_sequence >= contribution.plan_sequence:
            return False
        before = self.totals()
        self.contributions[plan_id] = contribution
        if self.totals() != before:
            self.sequence += 1
            self.events.append(CoverageChanged(self.sequence))
        return True
