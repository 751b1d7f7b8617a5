"""A need: what a partner organisation assessed, where, for whom, and how far it is covered.

Lifecycle: draft → submitted → validated (by a coordinator) or rejected (with a reason) →
partially covered → covered; or cancelled. Per item it tracks requested, planned, reserved,
dispatched and delivered quantities, the last four from distribution's coverage events.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property

from kitflow_shared.text import MAX_PEOPLE, MAX_QUANTITY

from kitflow_needs.domain.errors import FieldProblem, InvalidInput, InvalidTransition
from kitflow_needs.domain.gazetteer import PlaceCodes
from kitflow_needs.domain.norms import Basis, Calculation, NormsResult

MAX_SEVERITY = 5
MAX_REASON = 500
# The dates a need may state (assessment, period): a year like 9999 is a typing error, and a
# period computed from it would not fit a date.
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)


class NeedStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    VALIDATED = "validated"
    REJECTED = "rejected"
    PARTIALLY_COVERED = "partially-covered"
    COVERED = "covered"
    CANCELLED = "cancelled"


# Needs the cluster sees and has not set aside: the ones a duplicate can collide with.
ACTIVE_STATUSES = frozenset(
    {
        NeedStatus.SUBMITTED,
        NeedStatus.VALIDATED,
        NeedStatus.PARTIALLY_COVERED,
        NeedStatus.COVERED,
    }
)
_REVISABLE = frozenset(
    {NeedStatus.DRAFT, NeedStatus.SUBMITTED, NeedStatus.VALIDATED, NeedStatus.REJECTED}
)
_COVERAGE_DRIVEN = frozenset(
    {NeedStatus.VALIDATED, NeedStatus.PARTIALLY_COVERED, NeedStatus.COVERED}
)


class DisplacementStatus(StrEnum):
    IDP = "idp"
    RETURNEE = "returnee"
    HOST_COMMUNITY = "host-community"


class AssessmentSource(StrEnum):
    DTM_ROUND = "dtm-round"
    PARTNER_ASSESSMENT = "partner-assessment"


class DuplicateDecision(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    MERGED = "merged"


@dataclass(frozen=True)
class Coordinates:
    lat: float
    lon: float


@dataclass(frozen=True)
class Location:
    admin1_pcode: str
    admin1_name: str
    admin2_pcode: str
    admin2_name: str | None
    admin3_pcode: str | None
    site_name: str | None
    coordinates: Coordinates | None
    gazetteer_vintage: str
    admin2_verified: bool = True
    admin3_verified: bool = False
    # The codes as the partner gave them, when that was in another vintage than the reported one,
    # and how the crosswalk matched them (exact, split, within, unmapped).
    as_given: PlaceCodes | None = None
    crosswalk: str | None = None


@dataclass(frozen=True)
class Population:
    households: int
    individuals: int
    women: int | None = None
    men: int | None = None
    girls: int | None = None
    boys: int | None = None
    elderly: int | None = None
    disabled: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        """Every count by its name (the stored and the published form share it)."""
        return {
            "households": self.households,
            "individuals": self.individuals,
            "women": self.women,
            "men": self.men,
            "girls": self.girls,
            "boys": self.boys,
            "elderly": self.elderly,
            "disabled": self.disabled,
        }

    def count(self, basis: Basis) -> int | None:
        value: int | None = getattr(self, basis.value)
        return value

    def problems(self) -> list[FieldProblem]:
        # Every row of an import is checked: the common, sound case in one pass, the reasons
        # worked out only for a population that fails it.
        return [] if self.is_sound() else self.problems_found()

    def is_sound(self) -> bool:
        people = self.individuals
        parts = 0
        for value in (self.women, self.men, self.girls, self.boys):
            if value is not None:
                if value < 0:
                    return False
                parts += value
        return (
            0 < self.households <= people <= MAX_PEOPLE
            and parts <= people
            and (self.elderly is None or 0 <= self.elderly <= people)
            and (self.disabled is None or 0 <= self.disabled <= people)
        )

    def problems_found(self) -> list[FieldProblem]:
        out: list[FieldProblem] = []
        for name in ("households", "individuals", *_BREAKDOWN, "elderly", "disabled"):
            value = getattr(self, name)
            if value is not None and value < 0:
                out.append(FieldProblem(f"population.{name}", "must not be negative"))
            elif value is not None and value > MAX_PEOPLE:
                out.append(FieldProblem(f"population.{name}", f"at most {MAX_PEOPLE:,}"))
        if out:
            return out
        if self.individuals == 0:
            out.append(
                FieldProblem("population.individuals", "a need concerns at least one person")
            )
        if self.households == 0:
            out.append(
                FieldProblem("population.households", "a need concerns at least one household")
            )
        if self.households > self.individuals:
            out.append(
                FieldProblem(
                    "population.households",
                    f"{self.households} households cannot hold only {self.individuals} "
                    "individuals: a household has at least one member",
                )
            )
        parts = [getattr(self, n) for n in _BREAKDOWN if getattr(self, n) is not None]
        if sum(parts) > self.individuals:
            out.append(
                FieldProblem(
                    "population.individuals",
                    f"women, men, girls and boys add up to {sum(parts)}, more than the "
                    f"{self.individuals} individuals",
                )
            )
        for name in ("elderly", "disabled"):
            value = getattr(self, name)
            if value is not None and value > self.individuals:
                out.append(
                    FieldProblem(
                        f"population.{name}",
                        f"{value} is more than the {self.individuals} individuals",
                    )
                )
        return out


_BREAKDOWN = ("women", "men", "girls", "boys")


@dataclass(frozen=True)
class Assessment:
    assessed_on: date
    source: AssessmentSource
    reference: str | None = None  # the DTM round number, or the partner's report


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end


@dataclass(frozen=True)
class RequestedItem:
    item_code: str
    quantity: int
    # How the quantity was computed from the norms profile; None when the partner gave it.
    calculation: Calculation | None = None


@dataclass(frozen=True)
class NeedDetails:
    """What the partner states about the need: everything except its progress."""

    location: Location
    population: Population
    displacement: DisplacementStatus
    assessment: Assessment
    severity: int
    period: Period
    items: tuple[RequestedItem, ...]
    norms: NormsResult | None = None
    external_ref: str | None = None

    def problems(self) -> list[FieldProblem]:
        return list(self._problems)

    @cached_property
    def _problems(self) -> tuple[FieldProblem, ...]:
        # Details are immutable, so they are checked once: intake checks them and creating
        # the need checks them again, which a bulk import would otherwise pay twice a row.
        return tuple(self._find_problems())

    def _find_problems(self) -> list[FieldProblem]:
        out = list(self.population.problems())
        if not 1 <= self.severity <= MAX_SEVERITY:
            out.append(FieldProblem("severity", f"must be between 1 and {MAX_SEVERITY}"))
        if self.period.end < self.period.start:
            out.append(
                FieldProblem(
                    "period.end", f"{self.period.end} is before the start {self.period.start}"
                )
            )
        if not self.items:
            out.append(
                FieldProblem(
                    "items",
                    "an empty need: give items with quantities, or a norms profile that "
                    "computes some from the population",
                )
            )
        seen: set[str] = set()
        for i, item in enumerate(self.items):
            if item.quantity <= 0:
                out.append(FieldProblem(f"items.{i}.quantity", "must be greater than 0"))
            elif item.quantity > MAX_QUANTITY:
                out.append(FieldProblem(f"items.{i}.quantity", f"at most {MAX_QUANTITY:,}"))
            if item.item_code in seen:
                out.append(
                    FieldProblem(f"items.{i}.item_code", f"{item.item_code} is listed twice")
                )
            seen.add(item.item_code)
        if self.location.site_name is not None and not self.location.site_name.strip():
            out.append(FieldProblem("location.site_name", "must not be blank when given"))
        return out

    def validated(self) -> NeedDetails:
        problems = self.problems()
        if problems:
            raise InvalidInput(*problems)
        return self

    def requested(self) -> dict[str, int]:
        return {item.item_code: item.quantity for item in self.items}


@dataclass(frozen=True)
class ItemProgress:
    planned: int = 0
    reserved: int = 0
    dispatched: int = 0
    delivered: int = 0

    def started(self) -> bool:
        return bool(self.planned or self.reserved or self.dispatched or self.delivered)


NO_PROGRESS = ItemProgress()


@dataclass(frozen=True)
class NeedLine:
    """One item of a need, as a planner sees it."""

    item_code: str
    requested: int
    planned: int
    reserved: int
    dispatched: int
    delivered: int

    @property
    def remaining(self) -> int:
        """What still has to be planned: requested less what plans (or deliveries) cover."""
        return max(0, self.requested - max(self.planned, self.delivered))


@dataclass(frozen=True)
class DuplicateLink:
    need_id: str
    organisation: str
    reason: str
    decision: DuplicateDecision = DuplicateDecision.OPEN


@dataclass(frozen=True)
class Reached:
    households: int = 0
    individuals: int = 0


class NeedEventKind(StrEnum):
    SUBMITTED = "submitted"
    UPDATED = "updated"
    VALIDATED = "validated"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    COVERAGE_CHANGED = "coverage-changed"


@dataclass(frozen=True)
class NeedEvent:
    kind: NeedEventKind
    need: Need


@dataclass
class Need:
    need_id: str
    organisation: str
    details: NeedDetails
    status: NeedStatus
    created_at: datetime
    updated_at: datetime
    created_by: str = ""
    # The aggregate's version: 1 when created, +1 per change. Events carry it so that consumers
    # can apply "only if newer".
    sequence: int = 0
    progress: dict[str, ItemProgress] = field(default_factory=dict)
    # The newest coverage (distribution's own sequence) applied: older or repeated ones are no-ops.
    coverage_sequence: int = 0
    reached: Reached = field(default_factory=Reached)
    duplicates: tuple[DuplicateLink, ...] = ()
    rejection_reason: str | None = None
    cancellation_reason: str | None = None
    merged_into: str | None = None
    validated_by: str | None = None
    # True from the change that found new possible duplicates until each of those needs links
    # back to this one. Stored with that change, so a crash in between leaves a mark that the
    # service's sweep finds (handlers.needs.complete_back_links) rather than a one-sided pair.
    owes_back_links: bool = False
    events: list[NeedEvent] = field(default_factory=list, compare=False, repr=False)

    # ------------------------------------------------------------------ creation

    @classmethod
    def create(
        cls,
        need_id: str,
        organisation: str,
        details: NeedDetails,
        *,
        by: str,
        now: datetime,
        submit: bool = True,
        duplicates: tuple[DuplicateLink, ...] = (),
    ) -> Need:
        need = cls(
            need_id=need_id,
            organisation=organisation,
            details=details.validated(),
            status=NeedStatus.SUBMITTED if submit else NeedStatus.DRAFT,
            created_at=now,
            updated_at=now,
            created_by=by,
            sequence=1,
            duplicates=duplicates if submit else (),
            owes_back_links=submit and _any_open(duplicates),
        )
        if submit:
            need._record(NeedEventKind.SUBMITTED)
        return need

    # ------------------------------------------------------------------ the partner's side

    def revise(
        self,
        details: NeedDetails,
        *,
        now: datetime,
        duplicates: tuple[DuplicateLink, ...] = (),
    ) -> bool:
        """Replace the details; a validated need goes back to submitted for re-validation.
        `duplicates` are the possible duplicates found for the new details.

        Returns False (and records nothing) when nothing changed.
        """
        if self.status not in _REVISABLE:
            hint = (
                "coverage has started; ask a coordinator to cancel it and submit a new need"
                if self.status in (NeedStatus.PARTIALLY_COVERED, NeedStatus.COVERED)
                else ""
            )
            raise InvalidTransition(self.need_id, self.status, "changed", hint)
        details = details.validated()
        links = self.duplicates
        if self.status is not NeedStatus.DRAFT:
            links = _merge_links(self.duplicates, duplicates)
        if details == self.details and links == self.duplicates:
            return False
        self._owe_back_links_for(links)
        self.details = details
        self.duplicates = links
        if self.status is NeedStatus.VALIDATED:
            self.status = NeedStatus.SUBMITTED
            self.validated_by = None
        self._touch(now)
        if self.status is not NeedStatus.DRAFT:
            self._record(NeedEventKind.UPDATED)
        return True

    def submit(self, *, now: datetime, duplicates: tuple[DuplicateLink, ...] = ()) -> bool:
        if self.status is NeedStatus.SUBMITTED:
            return False
        if self.status not in (NeedStatus.DRAFT, NeedStatus.REJECTED):
            raise InvalidTransition(self.need_id, self.status, "submitted")
        self.status = NeedStatus.SUBMITTED
        self.rejection_reason = None
        links = _merge_links(self.duplicates, duplicates)
        self._owe_back_links_for(links)
        self.duplicates = links
        self._touch(now)
        self._record(NeedEventKind.SUBMITTED)
        return True

    def cancel(self, reason: str, *, now: datetime) -> bool:
        if self.status is NeedStatus.CANCELLED:
            return False
        if self.status is NeedStatus.COVERED:
            raise InvalidTransition(self.need_id, self.status, "cancelled", "it was delivered")
        self.status = NeedStatus.CANCELLED
        self.cancellation_reason = _reason(reason, "reason")
        self._touch(now)
        self._record(NeedEventKind.CANCELLED)
        return True

    # ------------------------------------------------------------------ the coordinator's side

    def validate(self, *, by: str, now: datetime) -> bool:
        if self.status in _COVERAGE_DRIVEN:
            return False
        if self.status is not NeedStatus.SUBMITTED:
            raise InvalidTransition(self.need_id, self.status, "validated", _UNLESS_SUBMITTED)
        self.validated_by = by
        self.status = self._coverage_status()
        self._touch(now)
        self._record(NeedEventKind.VALIDATED)
        return True

    def reject(self, reason: str, *, now: datetime) -> bool:
        if self.status is NeedStatus.REJECTED:
            return False
        if self.status not in (NeedStatus.SUBMITTED, NeedStatus.VALIDATED):
            raise InvalidTransition(self.need_id, self.status, "rejected", _UNLESS_SUBMITTED)
        self.rejection_reason = _reason(reason, "reason")
        self.status = NeedStatus.REJECTED
        self.validated_by = None
        self._touch(now)
        self._record(NeedEventKind.REJECTED)
        return True

    # ------------------------------------------------------------------ duplicates

    def link_duplicates(self, links: tuple[DuplicateLink, ...], *, now: datetime) -> bool:
        """Add links to possible duplicates not linked yet (decided links stay as decided)."""
        merged = _merge_links(self.duplicates, links)
        if merged == self.duplicates:
            return False
        self.duplicates = merged
        self._touch(now)
        if self.status is not NeedStatus.DRAFT:
            self._record(NeedEventKind.UPDATED)
        return True

    def decide_duplicate(
        self, other_id: str, decision: DuplicateDecision, *, now: datetime
    ) -> bool:
        link = self.duplicate_link(other_id)
        if link is None:
            raise InvalidInput.of(
                "other_need_id", f"need {self.need_id} is not flagged as a duplicate of {other_id}"
            )
        if link.decision is decision:
            return False
        self.duplicates = tuple(
            replace(d, decision=decision) if d.need_id == other_id else d for d in self.duplicates
        )
        self._touch(now)
        self._record(NeedEventKind.UPDATED)
        return True

    def merge_into(self, survivor_id: str, *, now: datetime) -> bool:
        """This need duplicates `survivor_id`, which stays: cancel this one, say where it went."""
        if self.merged_into == survivor_id:
            return False
        link = self.duplicate_link(survivor_id)
        if link is None:
            raise InvalidInput.of(
                "other_need_id",
                f"need {self.need_id} is not flagged as a duplicate of {survivor_id}",
            )
        if self.status in (NeedStatus.CANCELLED, NeedStatus.COVERED):
            raise InvalidTransition(self.need_id, self.status, "merged into another need")
        if any(p.started() for p in self.progress.values()):
            raise InvalidTransition(
                self.need_id,
                self.status,
                "merged into another need",
                "coverage has started on it; merge the other way round",
            )
        self.duplicates = tuple(
            replace(d, decision=DuplicateDecision.MERGED) if d.need_id == survivor_id else d
            for d in self.duplicates
        )
        self.merged_into = survivor_id
        self.status = NeedStatus.CANCELLED
        self.cancellation_reason = f"merged into {survivor_id} (duplicate)"
        self._touch(now)
        self._record(NeedEventKind.CANCELLED)
        return True

    def duplicate_link(self, other_id: str) -> DuplicateLink | None:
        return next((d for d in self.duplicates if d.need_id == other_id), None)

    # ------------------------------------------------------------------ coverage

    def apply_coverage(
        self,
        progress: dict[str, ItemProgress],
        reached: Reached,
        coverage_sequence: int,
        *,
        now: datetime,
    ) -> bool:
        """Take distribution's totals if they are newer than the ones held; else do nothing."""
        if coverage_sequence <= self.coverage_sequence:
            return False
        self.coverage_sequence = coverage_sequence
        self.progress = {code: p for code, p in progress.items() if p.started()}
        self.reached = reached
        if self.status in _COVERAGE_DRIVEN:
            self.status = self._coverage_status()
        self._touch(now)
        self._record(NeedEventKind.COVERAGE_CHANGED)
        return True

    def lines(self) -> list[NeedLine]:
        requested = self.details.requested()
        codes = list(requested) + sorted(set(self.progress) - set(requested))
        out = []
        for code in codes:
            p = self.progress.get(code, NO_PROGRESS)
            out.append(
                NeedLine(
                    item_code=code,
                    requested=requested.get(code, 0),
                    planned=p.planned,
                    reserved=p.reserved,
                    dispatched=p.dispatched,
                    delivered=p.delivered,
                )
            )
        return out

    def _coverage_status(self) -> NeedStatus:
        lines = [line for line in self.lines() if line.requested > 0]
        if lines and all(line.delivered >= line.requested for line in lines):
            return NeedStatus.COVERED
        if any(p.started() for p in self.progress.values()):
            return NeedStatus.PARTIALLY_COVERED
        return NeedStatus.VALIDATED

    # ------------------------------------------------------------------ bookkeeping

    def _owe_back_links_for(self, links: tuple[DuplicateLink, ...]) -> None:
        known = {d.need_id for d in self.duplicates}
        if _any_open(tuple(d for d in links if d.need_id not in known)):
            self.owes_back_links = True

    def snapshot(self) -> Need:
        # A shallow copy with its own progress and no events. Made field by field rather than
        # with dataclasses.replace, which re-runs __init__ (4x slower), or copy.copy, which goes
        # through the pickle protocol (3x slower): every need a bulk import creates takes one.
        twin = object.__new__(Need)
        twin.__dict__.update(self.__dict__)
        twin.progress = dict(self.progress)
        twin.events = []
        return twin

    def _touch(self, now: datetime) -> None:
        self.sequence += 1
        self.updated_at = now

    def _record(self, kind: NeedEventKind) -> None:
        self.events.append(NeedEvent(kind, self.snapshot()))


_UNLESS_SUBMITTED = "only a submitted need is validated or rejected"


def _reason(text: str, field_name: str) -> str:
    cleaned = " ".join(text.split())
    if not cleaned:
        raise InvalidInput.of(field_name, "must not be blank")
    if len(cleaned) > MAX_REASON:
        raise InvalidInput.of(field_name, f"at most {MAX_REASON} characters")
    return cleaned


def _any_open(links: tuple[DuplicateLink, ...]) -> bool:
    return any(d.decision is DuplicateDecision.OPEN for d in links)


def _merge_links(
    held: tuple[DuplicateLink, ...], new: tuple[DuplicateLink, ...]
) -> tuple[DuplicateLink, ...]:
    known = {d.need_id for d in held}
    return held + tuple(d for d in new if d.need_id not in known)
