"""The 5W report (who, what, where, when, for whom) of the Shelter / NFI distributions, in the
columns of OCHA Mali's 5W (sheet ML_5W, Dec 2023) with their HXL tags, one row per plan and need.

Targeted figures come from the need's assessed population; reached figures from the deliveries
recorded for the need (households and people counted once per need, however many items each
received). A row never shows more reached than targeted without saying so and why in its
remarks. Where a column has no source in kitflow (donor, cash amount, breakdowns the assessment
did not give) it stays empty rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kitflow_shared.contracts.needs import NeedPopulation

from kitflow_distribution.domain.plans import Plan, PlanLine, PlanStatus, Reach, Target
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
    ordered = sorted(plans, key=lambda p: (p.approved_at or p.created_at, p.id))
    at_need = _reach_per_need(ordered)
    for plan in ordered:
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
            reach = plan.reach.get(need_id, Reach())
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
                        reach.households,
                        reach.individuals,
                        delivered or None,
                        plan.status.value,
                        _remarks(plan, lines, reach, at_need.get(need_id, (Reach(), [])), pop),
                    )
                )
            )
    return rows


def _reach_per_need(plans: list[Plan]) -> dict[str, tuple[Reach, list[str]]]:
    """Per need: what all plans reached there, and the partners' remarks, in plan order."""
    out: dict[str, tuple[Reach, list[str]]] = {}
    for plan in plans:
        for need_id, reach in plan.reach.items():
            total, notes = out.get(need_id, (Reach(), []))
            out[need_id] = (total + reach, [*notes, reach.note] if reach.note else notes)
    return out


def _remarks(
    plan: Plan,
    lines: list[PlanLine],
    reach: Reach,
    at_need: tuple[Reach, list[str]],
    targeted: NeedPopulation,
) -> str:
    """The plan, then what a reader must know to trust the figures: reach beyond the target
    (across all plans, with the partners' reasons), goods a reversal took back, and the
    partner's remark."""
    remarks = [f"plan {plan.id}"]
    total, notes = at_need
    if Target(targeted.households, targeted.individuals).exceeded_by(total):
        why = " / ".join(dict.fromkeys(notes)) or "sans explication du partenaire"
        remarks.append(
            f"atteints au-delà des ciblés, tous plans ({total.households} ménages pour "
            f"{targeted.households}, {total.individuals} personnes pour {targeted.individuals}): "
            f"{why}"
        )
    elif reach.note:
        remarks.append(reach.note)
    returned = "; ".join(f"{x.item} x {x.returned}" for x in lines if x.returned)
    if returned:
        remarks.append(f"retourné à l'entrepôt (expédition annulée): {returned}")
    return "; ".join(remarks)
