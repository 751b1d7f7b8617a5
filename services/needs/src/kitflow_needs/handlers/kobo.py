"""KoboToolbox submissions turned into needs, each exactly once, none lost.

A submission's need takes its id from the organisation and the submission's `_uuid` (through
the HXL import's reference, `#meta+id` = `kobo:<uuid>`), so Kobo's retries (after 60, 600 and
6,000 s) find the need already there and change nothing. Every submission is kept with what
became of it: `accepted` with its need, or `refused` with the reasons, the same reasons the
needs API gives. A refused one is kept with its values so that, once the organisation's mapping
or the values are fixed, it is resubmitted from what is kept: nothing a partner collected is
lost."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from kitflow_shared.events.envelope import EventContext

from kitflow_needs.domain.errors import InvalidInput, UnknownKoboSubmission, UnreadableFile
from kitflow_needs.handlers.imports import (
    ImportHandlers,
    ImportOptions,
    ImportRow,
    need_id_for,
)
from kitflow_needs.handlers.ports import Actor, NeedsServices

State = Literal["accepted", "refused"]
REFERENCE_PREFIX = "kobo:"
# The question a refusal names when it is about the submission as a whole.
WHOLE_SUBMISSION = ""

# Reads a submission (its values, the organisation's mapping) into one import row, or raises
# UnreadableFile naming what it expected (adapters.kobo.read_submission).
SubmissionReader = Callable[[Mapping[str, Any], Mapping[str, str], str], ImportRow]


@dataclass(frozen=True)
class Refusal:
    question: str
    reason: str


@dataclass(frozen=True)
class KoboSubmission:
    organisation: str
    uuid: str
    payload: dict[str, Any]
    state: State
    received_at: datetime
    updated_at: datetime
    need_id: str | None = None
    reasons: tuple[Refusal, ...] = ()
    attempts: int = 1
    submit: bool = True


@dataclass(frozen=True)
class Received:
    submission: KoboSubmission
    # A delivery of a submission already accepted: nothing changed.
    replayed: bool = False


class KoboSubmissionRepository(Protocol):
    async def get(self, organisation: str, uuid: str) -> KoboSubmission | None: ...

    async def save(self, submission: KoboSubmission) -> None:
        """Store the submission as it is now (one document per organisation and `_uuid`)."""

    async def list(
        self, organisation: str, state: State | None, limit: int
    ) -> list[KoboSubmission]: ...


class KoboMappingRepository(Protocol):
    async def get(self, organisation: str) -> dict[str, str]:
        """Question path → HXL hashtag; empty when the organisation set none."""

    async def put(self, organisation: str, mapping: Mapping[str, str]) -> None: ...


@dataclass(frozen=True)
class KoboServices:
    submissions: KoboSubmissionRepository
    mappings: KoboMappingRepository
    read: SubmissionReader


def kobo_need_id(organisation: str, uuid: str) -> str:
    """The id of the need a submission makes (the import's id for reference `kobo:<uuid>`)."""
    return need_id_for(f"{organisation}\x1fref\x1f{REFERENCE_PREFIX}{uuid}")


@dataclass
class KoboHandlers:
    svc: NeedsServices
    kobo: KoboServices
    _now: Callable[[], datetime] = field(init=False)

    def __post_init__(self) -> None:
        self._now = self.svc.clock.now

    async def receive(
        self,
        uuid: str,
        payload: dict[str, Any],
        submit: bool,
        actor: Actor,
        context: EventContext,
    ) -> Received:
        held = await self.kobo.submissions.get(actor.organisation, uuid)
        if held is not None and held.state == "accepted":
            return Received(held, replayed=True)
        now = self._now()
        first = KoboSubmission(
            actor.organisation, uuid, payload, "refused", now, now, submit=submit
        )
        submission = (
            first if held is None else replace(held, payload=payload, attempts=held.attempts + 1)
        )
        return Received(await self._turn_into_need(submission, actor, context))

    async def resubmit(
        self,
        uuid: str,
        corrections: Mapping[str, Any],
        actor: Actor,
        context: EventContext,
    ) -> Received:
        """Try a kept submission again, its values corrected where `corrections` says (with the
        organisation's mapping as it is now)."""
        held = await self.kobo.submissions.get(actor.organisation, uuid)
        if held is None:
            raise UnknownKoboSubmission(uuid)
        if held.state == "accepted":
            return Received(held, replayed=True)
        payload = {**held.payload, **corrections, "_uuid": uuid}
        retried = replace(held, payload=payload, attempts=held.attempts + 1)
        return Received(await self._turn_into_need(retried, actor, context))

    async def _turn_into_need(
        self, submission: KoboSubmission, actor: Actor, context: EventContext
    ) -> KoboSubmission:
        mapping = await self.kobo.mappings.get(actor.organisation)
        reasons: list[Refusal] = []
        try:
            row = self.kobo.read(submission.payload, mapping, actor.organisation)
        except UnreadableFile as exc:
            reasons.append(Refusal(WHOLE_SUBMISSION, exc.reason))
        else:
            report = await ImportHandlers(self.svc).import_needs(
                [row], ImportOptions(submit=submission.submit), actor, context
            )
            reasons += [Refusal(e.column, e.reason) for e in report.errors]
        now = self._now()
        if reasons:
            done = replace(submission, state="refused", reasons=tuple(reasons), updated_at=now)
        else:
            need_id = kobo_need_id(actor.organisation, submission.uuid)
            done = replace(
                submission, state="accepted", reasons=(), need_id=need_id, updated_at=now
            )
        await self.kobo.submissions.save(done)
        return done

    async def submissions(
        self, actor: Actor, state: State | None, limit: int
    ) -> list[KoboSubmission]:
        return await self.kobo.submissions.list(actor.organisation, state, limit)

    async def mapping(self, actor: Actor) -> dict[str, str]:
        return await self.kobo.mappings.get(actor.organisation)

    async def set_mapping(self, actor: Actor, mapping: Mapping[str, str]) -> None:
        for question, tag in mapping.items():
            if not tag.startswith("#"):
                raise InvalidInput.of(
                    f"mapping.{question}", f"an HXL hashtag starts with '#', not {tag!r}"
                )
        await self.kobo.mappings.put(actor.organisation, mapping)
