"""Norms profiles: admins add and change them; everyone may read them."""

from __future__ import annotations

from dataclasses import replace

from kitflow_needs.domain.errors import NotPermitted
from kitflow_needs.domain.norms import NormsProfile
from kitflow_needs.handlers.ports import Actor, NeedsServices


async def add_profile(profile: NormsProfile, actor: Actor, svc: NeedsServices) -> NormsProfile:
    _admin(actor)
    catalogue = await svc.catalogue.knowing(r.item_code for r in profile.rules)
    profile = replace(profile, version=1).validated(catalogue)
    await svc.profiles.add(profile)
    return profile


async def replace_profile(
    profile: NormsProfile, expected_version: int | None, actor: Actor, svc: NeedsServices
) -> NormsProfile:
    """A new version of the profile; needs computed before keep the version they used."""
    _admin(actor)
    held = await svc.profiles.get(profile.profile_id)
    version = expected_version if expected_version is not None else held.version
    catalogue = await svc.catalogue.knowing(r.item_code for r in profile.rules)
    new = replace(profile, version=version + 1).validated(catalogue)
    await svc.profiles.save(new, version)
    return new


def _admin(actor: Actor) -> None:
    if not actor.admin:
        raise NotPermitted("only an admin manages norms profiles")
