"""Plans: drafted by the planner from the read models, decided by coordinators, carried out
through the conversation with stock, and reported as coverage of each need.

A coordinator's or partner's command with an Idempotency-Key (ADR 0011) is remembered with its
effect: a draft stores the key on the plan it creates (a unique index), a change pushes it onto
the plan's `requests` in the same conditional update as the change and its events. A retry finds
it and answers as the first time (the plan as it is now), changing nothing, whatever happened to
the plan in between: a delivery repeated after a timeout does not count its households twice.
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from kitflow_shared.contracts.needs import NeedState, NeedStatus
from kitflow_shared.events.envelope import EventContext
from kitflow_shared.request_keys import RememberedRequest, RequestKey, replayed_result
from kitflow_shared.web.paging import Page

from kitflow_distribution.domain.coverage import ItemProgress, PlanContribution
from kitflow_distribution.domain.errors import (
    ConcurrentChange,
    InvalidInput,
    NotPermitted,
    UnknownPlan,
)
from kitflow_distribution.domain.planner import (
    Coordinates,
    DraftPlan,
    PartnerCap,
    PlanningNeed,
    PlanningOptions,
    PlanningProblem,
    PlanningWarehouse,
    StockLevel,
    greedy_allocation,
    plan_allocation,
)
from kitflow_distribution.domain.planner.compare import compare_with_greedy
from kitflow_distribution.domain.plans import (
    Delivery,
    LineAnswer,
    LineReservation,
    Plan,
    PlanLine,
    PlanStatus,
    Reach,
    Target,
)
from kitflow_distribution.handlers.integration import coverage_events, plan_events
from kitflow_distribution.handlers.ports import (
    Actor,
    CoverageRepository,
    CreatedMeanwhile,
    NeedsView,
    PlanRepository,
    StockView,
    WarehouseView,
)
from kitflow_distribution.handlers.reports import FiveWRow, five_w_rows

Clock = Callable[[], datetime]
# Runs the planner on a problem: off the event loop in the service (ADR 0028).
Planner = Callable[[PlanningProblem], DraftPlan]


class Solve(Protocol):
    """Runs a planner (the solver by default, or the greedy baseline) on a problem."""

    def __call__(
        self, problem: PlanningProblem, planner: Planner = ..., /
    ) -> Awaitable[DraftPlan]: ...


MAX_ATTEMPTS = 10
# A plan is one store document (at most 16 MiB) that also holds, in its outbox, the events of a
# change until they are published. At 10,000 lines the plan takes 3.9 MB (lines 2.6, the
# planner's explanation 1.2) and the 40 events of its approval 3.5 MB more: 7.4 MB, room left
# for a second change waiting behind it; twice the lines would not leave that room (ADR 0017).
MAX_PLAN_LINES = 10_000
PLANNABLE = {NeedStatus.VALIDATED, NeedStatus.PARTIALLY_COVERED}


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


@dataclass(frozen=True)
class Answer:
    """The plan a command leaves, and whether the command was a retry of one already applied
    (nothing changed now; the answer repeats the first one's, with the plan as it is now)."""

    plan: Plan
    replayed: bool = False


@dataclass(frozen=True)
class DraftRequest:
    title: str
    need_ids: frozenset[str] | None = None
    item_codes: frozenset[str] | None = None
    allowed_warehouses: Mapping[str, frozenset[str]] | None = None
    partner_caps: tuple[PartnerCap, ...] = ()


@dataclass
class PlanHandlers:
    plans: PlanRepository
    coverage: CoverageRepository
    warehouses: WarehouseView
    stock: StockView
    needs: NeedsView
    clock: Clock = field(default=lambda: datetime.now(UTC))
    answer_within: timedelta = timedelta(minutes=10)
    reservations_last: timedelta = timedelta(days=14)
    max_lines: int = MAX_PLAN_LINES
    # Where the planner runs: off the event loop in the service (bootstrap: a bounded pool),
    # inline in unit tests.
    solve: Solve = field(default_factory=lambda: _solve_inline)
    # Keyed drafts being planned on this replica, by key: their copies wait instead.
    _drafting: dict[str, asyncio.Future[None]] = field(default_factory=dict, init=False, repr=False)

    def now(self) -> datetime:
        """The clock, to the millisecond the store keeps: the first answer to a command shows
        the times a replay of it reads back."""
        now = self.clock()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    # ---- planning

    async def problem(
        self, request: DraftRequest, states: list[NeedState] | None = None
    ) -> PlanningProblem:
        """The planner's input, from the read models only (`states`: the needs view, when the
        caller has read it already)."""
        warehouses = tuple(
            PlanningWarehouse(
                s.code,
                s.admin1_pcode,
                Coordinates(s.location.lat, s.location.lon) if s.location else None,
            )
            for s, _ in await self.warehouses.all()
            if s.active
        )
        known = {w.code for w in warehouses}
        stock = tuple(
            StockLevel(warehouse, b.item_code, b.available)
            for warehouse, b in await self.stock.all()
            if b.available > 0 and warehouse in known
        )
        needs = tuple(
            PlanningNeed(
                id=n.need_id,
                partner=n.organisation,
                admin1_pcode=n.admin1_pcode,
                admin2_pcode=n.admin2_pcode,
                requested={i.item_code: i.remaining for i in n.items if i.remaining > 0},
                coordinates=Coordinates(n.location.lat, n.location.lon) if n.location else None,
                severity=n.severity,
            )
            for n in (states if states is not None else await self.needs.all())
            if n.status in PLANNABLE and any(i.remaining > 0 for i in n.items)
        )
        if request.need_ids is not None:
            open_ids = {n.id for n in needs}
            unknown = sorted(request.need_ids - open_ids)
            if unknown:
                raise InvalidInput.of(
                    "need_ids",
                    f"not open for planning (unknown, not validated or covered): "
                    f"{', '.join(unknown)}",
                )
        options = PlanningOptions(
            allowed_warehouses=request.allowed_warehouses,
            partner_caps=request.partner_caps,
            need_ids=request.need_ids,
            item_codes=request.item_codes,
        )
        return PlanningProblem(warehouses=warehouses, stock=stock, needs=needs, options=options)

    async def draft(
        self,
        actor: Actor,
        request: DraftRequest,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Answer:
        """Run the planner on what distribution knows now and keep the result as a draft.

        Copies of one keyed request arriving together on this replica are planned once: the
        others wait for it and answer as its replay. Each copy would otherwise take a slot of
        the planner's bounded pool, and the pool refuses (503) what it cannot hold."""
        if not actor.plans:
            raise NotPermitted("only coordinators draft plans")
        if key is None:
            return await self._draft(actor, request, None)
        while (running := self._drafting.get(key.token)) is not None:
            await asyncio.wait([running])
        # Claimed before the next await, so that a copy arriving meanwhile waits for this one.
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._drafting[key.token] = done
        try:
            if (replay := await self._drafted_with(key)) is not None:
                return replay
            return await self._draft(actor, request, key)
        finally:
            done.set_result(None)
            if self._drafting.get(key.token) is done:
                del self._drafting[key.token]

    async def _draft(self, actor: Actor, request: DraftRequest, key: RequestKey | None) -> Answer:
        # The needs view read once: for the planner, then for where the plan's needs are.
        states = await self.needs.all()
        problem = await self.problem(request, states)
        result = await self.solve(problem)
        if len(result.lines) > self.max_lines:
            raise InvalidInput.of(
                "need_ids",
                f"the plan would have {len(result.lines):,} lines, more than the "
                f"{self.max_lines:,} a plan may hold: plan fewer needs (need_ids), items "
                "(item_codes) or warehouses (allowed_warehouses) at a time",
            )
        # The baseline a coordinator compares with before approving (same problem, no solver;
        # seconds at thousands of needs, so off the event loop too).
        baseline = await self.solve(problem, greedy_allocation)
        in_plan = self._needs_in(result, states)
        households = {need_id: int(n["households"]) for need_id, n in in_plan.items()}
        plan_id = f"PLN-{uuid.uuid4().hex[:12].upper()}"
        lines = [
            PlanLine(f"{plan_id}:L{n:03d}", x.warehouse, x.need_id, x.item, x.quantity)
            for n, x in enumerate(
                sorted(result.lines, key=lambda x: (x.need_id, x.item, x.warehouse)), start=1
            )
        ]
        now = self.now()
        plan = Plan(
            id=plan_id,
            title=request.title,
            created_by=actor.user,
            created_at=now,
            lines=lines,
            explanation={
                "objectives": _jsonable(result.objectives),
                "coverage": _jsonable(result.coverage),
                "shortfalls": _jsonable(result.shortfalls),
                "distances_km": {f"{x.warehouse}>{x.need_id}": x.distance_km for x in result.lines},
                "solver": _jsonable(result.stats) if result.stats else None,
                "needs": in_plan,
                "greedy_comparison": compare_with_greedy(result, baseline, households),
            },
        )
        plan.sequence = 1
        created_by = RememberedRequest.of(key, plan_id, now) if key is not None else None
        try:
            await self.plans.add(plan, [], created_by)
        except CreatedMeanwhile:
            # A concurrent copy of the same request got in first: answer with its plan.
            assert key is not None
            replay = await self._drafted_with(key)
            if replay is None:  # pragma: no cover - the key is there, or the store lies
                raise
            return replay
        return Answer(plan)

    @staticmethod
    def _needs_in(result: DraftPlan, states: list[NeedState]) -> dict[str, dict[str, Any]]:
        """Where each need of the draft is and whose it is, so that the plan reads by site and
        partner rather than by need id."""
        in_plan = {c.need_id for c in result.coverage}
        return {
            n.need_id: {
                "partner": n.organisation,
                "site": n.site_name,
                "admin2_pcode": n.admin2_pcode,
                "households": n.population.households,
            }
            for n in states
            if n.need_id in in_plan
        }

    async def _drafted_with(self, key: RequestKey) -> Answer | None:
        """The plan a request with this key drafted, if it did (IdempotencyKeyReused if the key
        was used for another request)."""
        found = await self.plans.created_with(key)
        if found is None:
            return None
        plan, created_by = found
        replayed_result(created_by, key)
        return Answer(plan, replayed=True)

    # ---- decisions (optimistic concurrency: reload and redo on a concurrent change)

    async def _change(
        self,
        plan_id: str,
        change: Callable[[Plan], Any],
        context: EventContext,
        event_id: str | None = None,
        key: RequestKey | None = None,
    ) -> Answer:
        """Apply `change` to the plan in one conditional write, re-reading it when another
        writer got in first. `event_id`: the stock event it takes in (once). `key`: a request
        already remembered on the plan is answered as the first time and changes nothing;
        otherwise the key is remembered in the same write as the change, or alone when the plan
        already was as asked (so that a retry after a later change still answers as the first
        time)."""
        for _ in range(MAX_ATTEMPTS):
            plan, remembered = await self.plans.load(plan_id, key)
            if key is not None and replayed_result(remembered, key) is not None:
                return Answer(plan, replayed=True)
            if event_id is not None and plan.handled(event_id):
                return Answer(plan)
            expected = plan.sequence
            change(plan)
            remember = RememberedRequest.of(key, plan_id, self.now()) if key is not None else None
            try:
                if plan.events or plan.sequence != expected:
                    if event_id is not None:
                        plan.remember(event_id)
                    events = plan_events(plan, plan.events, context)
                    await self.plans.save(plan, expected, events, remember)
                elif remember is not None:
                    await self.plans.remember(plan_id, expected, remember)
            except ConcurrentChange:
                continue
            return Answer(plan)
        raise ConcurrentChange(f"plan {plan_id} kept changing; try again")

    async def approve(
        self,
        actor: Actor,
        plan_id: str,
        all_or_nothing: bool,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Answer:
        if not actor.plans:
            raise NotPermitted("only coordinators approve plans")
        now = self.now()
        return await self._change(
            plan_id,
            lambda p: p.approve(
                actor.user,
                now,
                now + self.answer_within,
                now + self.reservations_last,
                all_or_nothing,
            ),
            context,
            key=key,
        )

    async def cancel(
        self,
        actor: Actor,
        plan_id: str,
        reason: str,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Answer:
        if not actor.plans:
            raise NotPermitted("only coordinators cancel plans")
        return await self._change(plan_id, lambda p: p.cancel(reason), context, key=key)

    async def request_dispatch(
        self,
        actor: Actor,
        plan_id: str,
        waybill_number: str,
        destination: str,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Answer:
        if not actor.plans:
            raise NotPermitted("only coordinators order dispatches")
        answer_by = self.now() + self.answer_within
        return await self._change(
            plan_id,
            lambda p: p.request_dispatch(waybill_number, destination, answer_by),
            context,
            key=key,
        )

    async def record_deliveries(
        self,
        actor: Actor,
        plan_id: str,
        deliveries: list[Delivery],
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Answer:
        today = self.now().date()
        for index, d in enumerate(deliveries):
            if d.delivered_on is not None and d.delivered_on > today:
                raise InvalidInput.of(
                    f"deliveries[{index}].delivered_on",
                    f"{d.delivered_on} is in the future (today is {today})",
                )
        plan = await self.plans.get(plan_id)
        if not actor.plans:
            # A partner confirms deliveries only for its own needs.
            own = {x.need_id for x in plan.lines if await self.owned_by(x.need_id, actor)}
            if not own:
                # A plan that serves none of the partner's needs is another organisation's:
                # not found, as when reading it, so its existence does not leak.
                raise UnknownPlan(plan_id)
            # (What the plan does not serve at all is the domain's 422, whoever asks.)
            lines = {x.line_id: x.need_id for x in plan.lines}
            named = {d.need_id for d in deliveries if d.need_id in lines.values()}
            named |= {lines[x.line_id] for d in deliveries for x in d.lines if x.line_id in lines}
            if not named <= own:
                raise NotPermitted("partners confirm deliveries to their own needs only")
        targets: dict[str, Target] = {}
        for need_id in sorted({d.need_id for d in deliveries}):
            need = await self.needs.get(need_id)
            if need is not None:
                pop = need.population
                elsewhere = await self.reached_by_other_plans(need_id, plan_id)
                targets[need_id] = Target(pop.households, pop.individuals, elsewhere)
        return await self._change(
            plan_id, lambda p: p.record_delivery(deliveries, targets), context, key=key
        )

    async def reached_by_other_plans(self, need_id: str, plan_id: str) -> Reach:
        """What every other plan serving the need reached there (read now: two deliveries
        recorded at the same instant on two plans may each miss the other's)."""
        total, offset = Reach(), 0
        while True:
            page = await self.plans.find(status=None, need_id=need_id, limit=200, offset=offset)
            for other in page.items:
                if other.id != plan_id:
                    total += other.reach.get(need_id, Reach())
            offset += len(page.items)
            if offset >= page.total or not page.items:
                return total

    async def owned_by(self, need_id: str, actor: Actor) -> bool:
        need = await self.needs.get(need_id)
        return need is not None and need.organisation == actor.organisation

    async def as_seen_by(self, actor: Actor, plan: Plan) -> Plan:
        """The whole plan for coordinators; for a partner, only what concerns its own needs
        (UnknownPlan when none does: another organisation's plan, not even its existence)."""
        if actor.plans:
            return plan
        own = {x.need_id for x in plan.lines if await self.owned_by(x.need_id, actor)}
        return _only_for(plan, own)

    async def find_for(
        self, actor: Actor, *, status: str | None, need_id: str | None, limit: int, offset: int
    ) -> Page[Plan]:
        """Plans, newest first: every plan for coordinators; for a partner, the plans serving
        one of its needs, each cut down to those needs' lines (as `as_seen_by`)."""
        if actor.plans:
            return await self.plans.find(status=status, need_id=need_id, limit=limit, offset=offset)
        own = set(await self.needs.ids_of(actor.organisation))
        page = await self.plans.find(
            status=status, need_id=need_id, limit=limit, offset=offset, need_ids=own
        )
        return Page(items=[_only_for(p, own) for p in page.items], total=page.total)

    async def five_w(self, actor: Actor) -> list[FiveWRow]:
        """The 5W rows of every plan that dispatched something; a partner's own needs only."""
        everything: list[Plan] = []
        offset = 0
        while True:
            page = await self.plans.find(status=None, need_id=None, limit=200, offset=offset)
            everything.extend(page.items)
            offset += len(page.items)
            if offset >= page.total or not page.items:
                break
        return await five_w_rows(
            everything, self.needs, None if actor.plans else actor.organisation
        )

    async def close(
        self,
        actor: Actor,
        plan_id: str,
        context: EventContext,
        reason: str | None = None,
        key: RequestKey | None = None,
    ) -> Answer:
        if not actor.plans:
            raise NotPermitted("only coordinators close plans")
        now = self.now()
        return await self._change(plan_id, lambda p: p.close(now, reason), context, key=key)

    # ---- stock's answers (idempotent by event id, and by the line's state)

    async def reservation_answered(
        self,
        plan_id: str,
        line_id: str,
        status: LineReservation,
        reserved: int,
        reason: str | None,
        event_id: str,
        context: EventContext,
    ) -> bool:
        answer = await self._change(
            plan_id,
            lambda p: p.reservation_answered(line_id, status, reserved, reason),
            context,
            event_id,
        )
        return answer.plan.handled(event_id)

    async def answers_received(
        self, plan_id: str, answers: list[LineAnswer], event_id: str, context: EventContext
    ) -> bool:
        """Stock's answers for some lines, taken in one change of the plan."""
        answer = await self._change(
            plan_id, lambda p: p.answers_received(answers), context, event_id
        )
        return answer.plan.handled(event_id)

    async def dispatch_recorded(
        self, plan_id: str, line_id: str, quantity: int, event_id: str, context: EventContext
    ) -> None:
        await self._change(
            plan_id, lambda p: p.dispatch_recorded(line_id, quantity), context, event_id
        )

    async def dispatch_reversed(
        self, plan_id: str, line_id: str, quantity: int, event_id: str, context: EventContext
    ) -> None:
        await self._change(
            plan_id, lambda p: p.dispatch_reversed(line_id, quantity), context, event_id
        )

    async def ask_again_where_unanswered(self) -> int:
        """Plans whose lines got no answer in time ask stock again, the same question (stock
        answers again, changing nothing it already did): reservations and dispatch orders."""
        asked = 0
        now = self.clock()
        for plan_id in await self.plans.waiting_for_answers():
            plan = await self.plans.get(plan_id)
            if plan.unanswered(now):
                await self._change(
                    plan_id,
                    lambda p: p.ask_again(now, now + self.answer_within),
                    EventContext.new(),
                )
                asked += 1
        return asked

    # ---- coverage of needs, from the plans' own published states

    async def plan_changed(
        self,
        plan_id: str,
        plan_sequence: int,
        status: str,
        lines: list[dict[str, Any]],
        context: EventContext,
        reached: Mapping[str, tuple[int, int]] | None = None,
    ) -> int:
        """Fold a plan's new state into the coverage of each need it serves.

        `reached`: need id -> (households, individuals) the plan reached there; None for a state
        published before reach was per need (its lines then carry it)."""
        by_need: dict[str, list[dict[str, Any]]] = {}
        for line in lines:
            by_need.setdefault(line["need_id"], []).append(line)
        if reached is None:
            reached = _reached_per_line(by_need)
        changed = 0
        counts_as_planned = status not in (PlanStatus.DRAFT.value, PlanStatus.CANCELLED.value)
        for need_id, need_lines in sorted(by_need.items()):
            items: dict[str, ItemProgress] = {}
            for x in need_lines:
                # What a reversal took back is no longer on its way: not planned any more.
                returned = x.get("returned", 0)
                planned = x["quantity"] - returned if counts_as_planned else x["dispatched"]
                progress = ItemProgress(
                    max(planned, 0),
                    x["reserved"] if counts_as_planned else 0,
                    x["dispatched"],
                    x["delivered"],
                )
                items[x["item_code"]] = items.get(x["item_code"], ItemProgress()) + progress
            households, individuals = reached.get(need_id, (0, 0))
            contribution = PlanContribution(plan_sequence, items, households, individuals)
            need = await self.needs.get(need_id)
            for _ in range(MAX_ATTEMPTS):
                coverage = await self.coverage.get(need_id, need.organisation if need else "")
                if not coverage.organisation and need is not None:
                    coverage.organisation = need.organisation
                if not coverage.apply_plan(plan_id, contribution):
                    break
                try:
                    await self.coverage.save(coverage, coverage_events(coverage, context))
                except ConcurrentChange:
                    continue
                changed += len(coverage.events)
                break
        return changed


async def _solve_inline(
    problem: PlanningProblem, planner: Planner = plan_allocation, /
) -> DraftPlan:
    """On the caller's loop: for unit tests and tools, never in the service."""
    return planner(problem)


def _reached_per_line(by_need: Mapping[str, list[dict[str, Any]]]) -> dict[str, tuple[int, int]]:
    """Reach from a plan state published before it was recorded per need: each item line then
    counted the same households again, so the largest line is the best estimate of the need's."""
    return {
        need_id: (
            max(x.get("households_reached", 0) for x in lines),
            max(x.get("individuals_reached", 0) for x in lines),
        )
        for need_id, lines in by_need.items()
    }


def _only_for(plan: Plan, needs: set[str]) -> Plan:
    """The plan as a partner owning `needs` reads it: their lines and reach, no explanation
    (it names other organisations' needs). UnknownPlan when it serves none of them."""
    own = [x for x in plan.lines if x.need_id in needs]
    if not own:
        raise UnknownPlan(plan.id)
    plan.lines = own
    plan.reach = {k: v for k, v in plan.reach.items() if k in needs}
    plan.explanation = {}
    return plan
