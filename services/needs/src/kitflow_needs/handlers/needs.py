"""Creating, changing and deciding on needs: one command, one need, one atomic write.

Flagging duplicates touches the other partner's need too; that is a second command on that
need (its own atomic write with its own event), run after the first succeeded. Both are
idempotent, so a retry after a crash in between completes the pair; until then the new need's
own link already shows the duplicate to coordinators.

A command with an Idempotency-Key (ADR 0011) is remembered with its effect: a create stores the
key on the need it creates (a unique index), a change pushes it onto the need's `requests` in
the same conditional update as the change and its events. A retry finds it and answers as the
first time (the need as it is now), changing nothing, whatever happened to the need in between.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from kitflow_shared.errors import message
from kitflow_shared.events.envelope import EventContext
from kitflow_shared.request_keys import RememberedRequest, RequestKey, replayed_result

from kitflow_needs.domain.duplicates import back_link, find_duplicates
from kitflow_needs.domain.errors import (
    ConcurrentChange,
    IdempotentReplay,
    NotPermitted,
    UnknownNeed,
)
from kitflow_needs.domain.intake import NeedInput, build_details
from kitflow_needs.domain.need import (
    ACTIVE_STATUSES,
    DuplicateDecision,
    DuplicateLink,
    Need,
    NeedDetails,
)
from kitflow_needs.handlers.integration import need_events
from kitflow_needs.handlers.ports import Actor, NeedQuery, NeedsServices, Page

log = logging.getLogger(__name__)

# Optimistic concurrency: a few re-reads settle any realistic contention on one need.
MAX_ATTEMPTS = 5
# Other needs changed at once when a bulk import links its needs back to them.
LINK_BACK_CONCURRENCY = 16


@dataclass(frozen=True)
class CreateNeed:
    given: NeedInput
    submit: bool = True
    key: RequestKey | None = None


@dataclass(frozen=True)
class Answer:
    """The need a command leaves, and whether the command was a retry of one already applied
    (nothing changed now; the answer repeats the first one's)."""

    need: Need
    replayed: bool = False


SYSTEM = Actor(user="needs-service", organisation="", coordinator=True)


def _own(need: Need, actor: Actor, what: str) -> None:
    if need.organisation != actor.organisation:
        # Coordinators of another organisation see the need but do not edit it for the partner.
        raise NotPermitted(
            message(
                "only {organisation} {what} this need",
                organisation=need.organisation,
                what=message(what),
            )
        )


def _coordinator(actor: Actor, what: str) -> None:
    if not actor.coordinator:
        raise NotPermitted(message("only a coordinator {what}", what=message(what)))


@dataclass
class NeedHandlers:
    """Reading needs, the partner's commands on them and the coordinator's decisions."""

    svc: NeedsServices

    # ------------------------------------------------------------------ reading

    async def get_need(self, need_id: str, actor: Actor) -> Need:
        """The need, if the caller may see it; another organisation's need is UnknownNeed (404)."""
        need = await self.svc.needs.get(need_id)
        if not actor.sees_all and need.organisation != actor.organisation:
            raise UnknownNeed(need_id)
        return need

    def shows_duplicate_details(self, actor: Actor) -> bool:
        """Whether `actor` reads why another organisation's need may duplicate one of theirs, or
        only that it may and whom to talk to (domain.duplicates.reason_for_partner)."""
        return actor.sees_all or self.svc.duplicate_details_for_partners

    async def list_needs(self, query: NeedQuery, actor: Actor) -> Page[Need]:
        if not actor.sees_all:
            query = NeedQuery(**{**query.__dict__, "organisation": actor.organisation})
        return await self.svc.needs.find(query)

    # ------------------------------------------------------------------ the partner's side

    async def details_of(self, given: NeedInput) -> NeedDetails:
        profiles = {}
        if given.profile_id is not None:
            profiles = {p.profile_id: p for p in await self.svc.profiles.all()}
        catalogue = await self.svc.catalogue.knowing(code for code, _ in given.items)
        return build_details(
            given, gazetteer=self.svc.gazetteer, catalogue=catalogue, profiles=profiles
        )

    async def create_need(self, command: CreateNeed, actor: Actor, context: EventContext) -> Answer:
        if command.key is not None:
            replay = await self._created_with(command.key)
            if replay is not None:
                return replay
        details = await self.details_of(command.given)
        need_id = self.svc.new_id()
        links: tuple[DuplicateLink, ...] = ()
        if command.submit:
            links = await self._possible_duplicates(need_id, actor.organisation, details)
        need = Need.create(
            need_id,
            actor.organisation,
            details,
            by=actor.user,
            now=self.svc.clock.now(),
            submit=command.submit,
            duplicates=links,
        )
        try:
            await self.svc.needs.add(need, need_events(need.events, context), key=command.key)
        except IdempotentReplay:
            # A concurrent copy of the same request got in first: answer with its need.
            assert command.key is not None
            replay = await self._created_with(command.key)
            if replay is None:  # pragma: no cover - the key is there, or the store lies
                raise
            return replay
        await self.link_back(need, context)
        return Answer(need)

    async def revise_need(
        self,
        need_id: str,
        given: NeedInput,
        actor: Actor,
        context: EventContext,
        *,
        key: RequestKey | None = None,
        content_hash: str | None = None,
    ) -> Answer:
        details = await self.details_of(given)

        async def revise(need: Need) -> bool:
            _own(need, actor, "changes")
            links = await self._possible_duplicates(need.need_id, need.organisation, details)
            return need.revise(details, now=self.svc.clock.now(), duplicates=links)

        # Without an import's content hash, a person changed the details.
        return await self._change(
            need_id,
            actor,
            context,
            revise,
            key,
            content_hash=content_hash,
            edited=content_hash is None,
        )

    async def submit_need(
        self,
        need_id: str,
        actor: Actor,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Answer:
        async def submit(need: Need) -> bool:
            _own(need, actor, "submits")
            links = await self._possible_duplicates(need.need_id, need.organisation, need.details)
            return need.submit(now=self.svc.clock.now(), duplicates=links)

        return await self._change(need_id, actor, context, submit, key)

    async def cancel_need(
        self,
        need_id: str,
        reason: str,
        actor: Actor,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Answer:
        async def cancel(need: Need) -> bool:
            if not actor.sees_all:
                _own(need, actor, "cancels")
            return need.cancel(reason, now=self.svc.clock.now())

        return await self._change(need_id, actor, context, cancel, key)

    # ------------------------------------------------------------------ the coordinator's side

    async def validate_need(
        self,
        need_id: str,
        actor: Actor,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Answer:
        _coordinator(actor, "validates needs")

        async def validate(need: Need) -> bool:
            return need.validate(by=actor.user, now=self.svc.clock.now())

        return await self._change(need_id, actor, context, validate, key)

    async def reject_need(
        self,
        need_id: str,
        reason: str,
        actor: Actor,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Answer:
        _coordinator(actor, "rejects needs")

        async def reject(need: Need) -> bool:
            return need.reject(reason, now=self.svc.clock.now())

        return await self._change(need_id, actor, context, reject, key)

    async def keep_both(
        self,
        need_id: str,
        other_id: str,
        actor: Actor,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Answer:
        """Both needs stand: the coordinator checked they are not the same."""
        _coordinator(actor, "decides on duplicates")
        await self.get_need(other_id, actor)

        async def keep(need: Need) -> bool:
            return need.decide_duplicate(other_id, DuplicateDecision.KEPT, now=self.svc.clock.now())

        answer = await self._change(need_id, actor, context, keep, key)
        await self._decide_other_side(
            answer.need, other_id, DuplicateDecision.KEPT, context, if_undecided=answer.replayed
        )
        return answer

    async def merge_need(
        self,
        need_id: str,
        survivor_id: str,
        actor: Actor,
        context: EventContext,
        key: RequestKey | None = None,
    ) -> Answer:
        """`need_id` duplicates `survivor_id`: cancel it as merged; the survivor stays."""
        _coordinator(actor, "merges duplicates")
        await self.get_need(survivor_id, actor)

        async def merge(need: Need) -> bool:
            return need.merge_into(survivor_id, now=self.svc.clock.now())

        answer = await self._change(need_id, actor, context, merge, key)
        await self._decide_other_side(
            answer.need,
            survivor_id,
            DuplicateDecision.MERGED,
            context,
            if_undecided=answer.replayed,
        )
        return answer

    # ------------------------------------------------------------------ shared steps

    async def _created_with(self, key: RequestKey) -> Answer | None:
        """The need a request with this key created, if it did (IdempotencyKeyReused if the key
        was used for another request)."""
        found = await self.svc.needs.created_with(key)
        if found is None:
            return None
        need, remembered = found
        replayed_result(remembered, key)
        return Answer(need, replayed=True)

    async def _change(
        self,
        need_id: str,
        actor: Actor,
        context: EventContext,
        mutate: Callable[[Need], Awaitable[bool]],
        key: RequestKey | None = None,
        *,
        content_hash: str | None = None,
        edited: bool = False,
    ) -> Answer:
        """Apply `mutate` to the need in one conditional write, re-reading it when another writer
        got in first. With a key: a request already remembered on the need is answered as the
        first time and changes nothing; otherwise the key is remembered in the same write as the
        change, or alone when the need already was as asked (so that a retry after a later change
        still answers as the first time)."""
        for _ in range(MAX_ATTEMPTS):
            if key is not None and await self._applied_before(need_id, key):
                return Answer(await self.get_need(need_id, actor), replayed=True)
            need = await self.get_need(need_id, actor)
            expected = need.sequence
            changed = await mutate(need)
            remember = (
                None if key is None else RememberedRequest.of(key, need_id, self.svc.clock.now())
            )
            try:
                if changed:
                    events = need_events(need.events, context)
                    await self.svc.needs.save(
                        need,
                        expected,
                        events,
                        content_hash=content_hash,
                        remember=remember,
                        edited=edited,
                    )
                elif remember is not None:
                    await self.svc.needs.remember(need_id, expected, remember)
            except ConcurrentChange:
                continue
            if changed:
                await self.link_back(need, context)
            return Answer(need)
        raise ConcurrentChange(f"need {need_id} kept changing; try again")

    async def _applied_before(self, need_id: str, key: RequestKey) -> bool:
        """Whether this very request was applied to the need (IdempotencyKeyReused when the key
        was used on it for another request)."""
        remembered = await self.svc.needs.remembered(need_id, key)
        return replayed_result(remembered, key) is not None

    async def _possible_duplicates(
        self, need_id: str, organisation: str, details: NeedDetails
    ) -> tuple[DuplicateLink, ...]:
        candidates = await self.svc.needs.candidates_for(
            details, excluding_organisation=organisation
        )
        return find_duplicates(need_id, organisation, details, candidates)

    async def link_back(self, need: Need, context: EventContext) -> None:
        """Flag `need` on each other partner's need it may duplicate, if not flagged there yet.

        Each is the other need's own atomic write with its own event, and idempotent. The change
        that found the duplicates stored `owes_back_links` with it; the mark is cleared once every
        link is in place, so whatever a crash interrupts here, self.complete_back_links() finishes.
        """
        await self.link_back_all([need], context)

    async def link_back_all(self, needs: Sequence[Need], context: EventContext) -> None:
        """`link_back` for many needs at once (a bulk import, the sweep).

        Each other need is changed once, with all the back-links it gets from `needs` and one
        event; all are read in one query and written in one bulk write: a partner importing an
        assessment that overlaps another partner's links thousands of pairs, and one read and one
        write after the other for each had taken minutes. What changed meanwhile is retried one by
        one, up to LINK_BACK_CONCURRENCY at a time. The marks of the needs whose links are all in
        place are cleared in one write."""
        linking: dict[str, list[Need]] = {}
        for need in needs:
            if need.status not in ACTIVE_STATUSES:
                continue
            for link in need.duplicates:
                if link.decision is DuplicateDecision.OPEN:
                    linking.setdefault(link.need_id, []).append(need)
        unsettled: set[str] = set()

        def add_links_from(new: list[Need]) -> Callable[[Need], Awaitable[bool]]:
            async def add_links(other: Need) -> bool:
                links = tuple(
                    back_link(n, other) for n in new if other.duplicate_link(n.need_id) is None
                )
                return bool(links) and other.link_duplicates(links, now=self.svc.clock.now())

            return add_links

        # One read and one write for all of them; then whatever changed meanwhile (a conditional
        # write that did not match) is done again one by one, as a single change would be.
        others = await self.svc.needs.get_many(list(linking))
        changes = []
        for other_id, new in linking.items():
            other = others.get(other_id)
            if other is None:
                log.warning("needs link to %s, which does not exist", other_id)
                continue
            expected = other.sequence
            if await add_links_from(new)(other):
                changes.append((other, expected, need_events(other.events, context)))
        await self.svc.needs.save_many(changes)
        held = await self.svc.needs.get_many([other.need_id for other, _, _ in changes])
        retry = [
            other.need_id
            for other, _, _ in changes
            if other.need_id not in held
            or any(
                held[other.need_id].duplicate_link(n.need_id) is None
                for n in linking[other.need_id]
            )
        ]
        limit = asyncio.Semaphore(LINK_BACK_CONCURRENCY)

        async def link_one(other_id: str, new: list[Need]) -> None:
            async with limit:
                try:
                    await self._change_quietly(other_id, context, add_links_from(new))
                except UnknownNeed:
                    log.warning("needs link to %s, which does not exist", other_id)
                except ConcurrentChange as exc:
                    # The new needs' own links stand; the coordinator still sees the pairs, and the
                    # next sweep tries again.
                    unsettled.update(n.need_id for n in new)
                    log.warning("could not link %s back: %s", other_id, exc)

        await asyncio.gather(*(link_one(other_id, linking[other_id]) for other_id in retry))
        done = {
            n.need_id: n.sequence for n in needs if n.owes_back_links and n.need_id not in unsettled
        }
        await self.svc.needs.back_links_done(done)
        for n in needs:
            if n.need_id in done:
                n.owes_back_links = False

    async def complete_back_links(self, context: EventContext, limit: int = 200) -> int:
        """Finish the back-links that a crash (or a contended need) left undone; how many needs
        were looked at. Run periodically by the service (its `back-links` worker)."""
        owing = await self.svc.needs.owing_back_links(limit)
        await self.link_back_all(owing, context)
        return len(owing)

    async def _change_quietly(
        self,
        need_id: str,
        context: EventContext,
        mutate: Callable[[Need], Awaitable[bool]],
    ) -> None:
        """A change made by the service itself on another need (no further linking from it)."""
        for _ in range(MAX_ATTEMPTS):
            other = await self.svc.needs.get(need_id)
            expected = other.sequence
            if not await mutate(other):
                return
            try:
                await self.svc.needs.save(other, expected, need_events(other.events, context))
            except ConcurrentChange:
                continue
            return
        raise ConcurrentChange(f"need {need_id} kept changing")

    async def _decide_other_side(
        self,
        need: Need,
        other_id: str,
        decision: DuplicateDecision,
        context: EventContext,
        *,
        if_undecided: bool = False,
    ) -> None:
        """The decision on the other need's link too. `if_undecided`: for a replayed request, whose
        decision may have been followed by another one since (keep, then merge): only complete a
        side that a crash left undecided."""

        async def decide(other: Need) -> bool:
            changed = False
            link = other.duplicate_link(need.need_id)
            if if_undecided and link is not None and link.decision is not DuplicateDecision.OPEN:
                return False
            if link is None:
                # Only one side was linked (a crash between the two writes): complete it first.
                changed = other.link_duplicates((back_link(need, other),), now=self.svc.clock.now())
            return (
                other.decide_duplicate(need.need_id, decision, now=self.svc.clock.now()) or changed
            )

        await self._change_quietly(other_id, context, decide)
