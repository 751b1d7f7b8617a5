"""Norms profiles: admins add and change them; everyone may read them.

With an Idempotency-Key (ADR 0011) the profile document remembers the request that added or
changed it, in the same write: a retry answers with that profile as it is now, and a change
retried never makes a second version."""

from __future__ import annotations

from dataclasses import dataclass, replace

from kitflow_shared.request_keys import RememberedRequest, RequestKey, replayed_result

from kitflow_needs.domain.errors import (
    ConcurrentChange,
    DuplicateProfile,
    FieldProblem,
    InvalidInput,
    NotPermitted,
)
from kitflow_needs.domain.need import Population
from kitflow_needs.domain.norms import NormsProfile, NormsResult, calculate
from kitflow_needs.handlers.ports import Actor, NeedsServices


@dataclass(frozen=True)
class ProfileAnswer:
    profile: NormsProfile
    # A retry of a request already applied: nothing changed now.
    replayed: bool = False


def _admin(actor: Actor) -> None:
    if not actor.admin:
        raise NotPermitted("only an admin manages norms profiles")


@dataclass
class ProfileHandlers:
    """Norms profiles: add and change them (admins)."""

    svc: NeedsServices

    async def add_profile(
        self, profile: NormsProfile, actor: Actor, key: RequestKey | None = None
    ) -> ProfileAnswer:
        _admin(actor)
        replay = await self._replay(key)
        if replay is not None:
            return replay
        catalogue = await self.svc.catalogue.knowing(r.item_code for r in profile.rules)
        profile = replace(profile, version=1).validated(catalogue)
        try:
            await self.svc.profiles.add(profile, self._remember(key, profile))
        except DuplicateProfile:
            # A concurrent copy of this request may have added it: then answer as it did.
            replay = await self._replay(key)
            if replay is None:
                raise
            return replay
        return ProfileAnswer(profile)

    async def replace_profile(
        self,
        profile: NormsProfile,
        expected_version: int | None,
        actor: Actor,
        key: RequestKey | None = None,
    ) -> ProfileAnswer:
        """A new version of the profile; needs computed before keep the version they used."""
        _admin(actor)
        replay = await self._replay(key)
        if replay is not None:
            return replay
        held = await self.svc.profiles.get(profile.profile_id)
        version = expected_version if expected_version is not None else held.version
        catalogue = await self.svc.catalogue.knowing(r.item_code for r in profile.rules)
        new = replace(profile, version=version + 1).validated(catalogue)
        try:
            await self.svc.profiles.save(new, version, self._remember(key, new))
        except ConcurrentChange:
            # A concurrent copy of this request made the version: then answer as it did.
            replay = await self._replay(key)
            if replay is None:
                raise
            return replay
        return ProfileAnswer(new)

    async def _replay(self, key: RequestKey | None) -> ProfileAnswer | None:
        """The profile a request with this key added or changed, as it is now, if this very request
        did (IdempotencyKeyReused if the key was used for another request)."""
        if key is None:
            return None
        found = await self.svc.profiles.remembered(key)
        if found is None:
            return None
        held_id, remembered = found
        replayed_result(remembered, key)
        return ProfileAnswer(await self.svc.profiles.get(held_id), replayed=True)

    def _remember(self, key: RequestKey | None, profile: NormsProfile) -> RememberedRequest | None:
        if key is None:
            return None
        return RememberedRequest.of(
            key, f"{profile.profile_id}@{profile.version}", self.svc.clock.now()
        )

    async def preview(
        self,
        profile_id: str,
        population: Population,
        duration_days: int | None,
        rules: tuple[str, ...] | None,
    ) -> NormsResult:
        """The quantities `population` would get from the profile, with each formula (changes
        nothing; anyone may ask)."""
        profile = await self.svc.profiles.get(profile_id)
        problems = population.problems()
        if problems:
            raise InvalidInput(*problems)
        try:
            return calculate(profile, population, duration_days, rules)
        except InvalidInput as exc:
            # The calculator names a need's fields (norms.rules.0); here they are the request's.
            raise InvalidInput(
                *(FieldProblem(p.field.removeprefix("norms."), p.reason) for p in exc.problems)
            ) from None
