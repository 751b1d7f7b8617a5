"""The 5W report (who, what, where, when, for whom) of the Shelter / NFI distributions, in the
columns of OCHA Mali's 5W (sheet ML_5W, Dec 2023) with their HXL tags, one row per plan and need.

Targeted figures come from the need's assessed population; reached figures from the deliveries
recorded on the plan's lines. Where a column has no source in kitflow (donor, cash amount,
breakdowns the assessment did not give) it stays empty rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kitflow_distribution.domain.plans import Plan, PlanStatus
from kitflow_distribution.handlers.ports import NeedsView

SECTOR = "Abris/BNA"  # the Mali cluster's own name: Abris et Biens Non Alimentaires

# (header as in the OCHA Mali 5W, HXL hashtag). Tags marked in the source are used as given;
# the others are HXL core tags chosen for the same meaning.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Organisation Accronyme", "#org+acronym"),
    ("admin1Pcod", "#adm1+code"),
    ("admin2Pcod", "#adm2+code"),
    ("admin3Pcod", "#adm3+code"),
    ("Village", "#loc+name"),
    ("Cluster", "#sector"),
    ("Project Title", "#activity+project+name"),
    ("Date début", "#date+start"),
    ("Date fin", "#date+end"),
    ("Activités", "#activity+description"),
    ("Total ménages ciblés", "#targeted+hh"),
    ("Total Personnes ciblées", "#targeted+ind"),
    ("Total Femmes ciblées", "#targeted+f"),
    ("Total Hommes ciblés", "#targeted+m"),
    ("Total Filles ciblées (<18)", "#targeted+f+children"),
    ("Total Garçons ciblés (<18)", "#targeted+m+children"),
    ("Personnes âgées ciblées", "#targeted+elderly"),
    ("Personnes vivant avec Handicap ciblées", "#targeted+disabled"),
    ("Total ménages atteints", "#reached+hh"),
    ("Total No. atteintes", "#reached+ind"),
    ("Articles distribués", "#output+items"),
    ("Statut", "#status+code"),
    ("Remarques", "#description+notes"),
)

REPORTED = {PlanStatus.DISPATCHED, PlanStatus.DELIVERED, PlanStatus.CLOSED, PlanStatus.DISPATCHING}


@dataclass(frozen=True)
class FiveWRow:
    values: tuple[str | int | None, ...]


async def five_w_rows(
    plans: list[Plan], needs: NeedsView, organisation: str | None = None
) -> list[FiveWRow]:
    """One row per (plan, need) of every plan that dispatched something."""
    rows: list[FiveWRow] = []
    for plan in sorted(plans, key=lambda p: (p.approved_at or p.created_at, p.id)):
        if plan.status not in REPORTED:
            continue
        need_ids = sorted({line.need_id for line in plan.lines})
        for need_id in need_ids:
            need = await needs.get(need_id)
            if need is None or (organisation is not None and need.organisation != organisation):
                continue
            lines = [x for x in plan.lines if x.need_id == need_id]
            planned = "; ".join(f"{x.item} x {x.quantity}" for x in lines)
            delivered = "; ".join(f"{x.item} x {x.delivered}" for x in lines if x.delivered)
            pop = need.population
            rows.append(
                FiveWRow(
                    (
                        need.organisation,
                        need.admin1_pcode,
                        need.admin2_pcode,
                        need.admin3_pcode,
                        need.site_name,
                        SECTOR,
                        plan.title,
                        (plan.approved_at or plan.created_at).date().isoformat(),
                        plan.closed_at.date().isoformat() if plan.closed_at else None,
                        f"Distribution: {planned}",
                        pop.households,
                        pop.individuals,
                        pop.women,
                        pop.men,
                        pop.girls,
                        pop.boys,
                        pop.elderly,
                        pop.disabled,
                        sum(x.households_reached for x in lines),
                        sum(x.individuals_reached for x in lines),
                        delivered or None,
                        plan.status.value,
                        f"plan {plan.id}",
                    )
                )
            )
    return rows
