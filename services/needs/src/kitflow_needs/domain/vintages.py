"""A crosswalk of cercles (admin2) between two vintages of Mali's P-codes.

Admin1 codes ML01-ML09 kept their meaning between COD-AB 2015 and the 2021+ vintage, but the
admin2 codes were renumbered (the cercle of Mopti is ML0501 in 2015, ML0506 in 2021+, where
ML0506 was Douentza in 2015), and the 2015 cercle of Ménaka (ML0704, in Gao) became the region
ML10 with four cercles. A link maps an older cercle to the newer cercle(s) it became; the first
newer one is the cercle that kept the name, where a single code must go.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class CrosswalkMatch(StrEnum):
    EXACT = "exact"  # the same area under another code
    SPLIT = "split"  # the older cercle became several: reported as the one that kept its name
    WITHIN = "within"  # a newer cercle read back as the older cercle that contained it
    UNMAPPED = "unmapped"  # the crosswalk does not list it: the code is carried over, unverified


@dataclass(frozen=True)
class CercleLink:
    older: str
    newer: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.newer:
            raise ValueError(f"{self.older} links to no newer cercle")


@dataclass(frozen=True)
class Translated:
    admin2_pcode: str
    match: CrosswalkMatch


class Crosswalk:
    def __init__(self, older_vintage: str, newer_vintage: str, links: Iterable[CercleLink]):
        self.older_vintage = older_vintage
        self.newer_vintage = newer_vintage
        self._forward: dict[str, Translated] = {}
        self._backward: dict[str, Translated] = {}
        for link in links:
            split = len(link.newer) > 1
            self._forward[link.older] = Translated(
                link.newer[0], CrosswalkMatch.SPLIT if split else CrosswalkMatch.EXACT
            )
            for newer in link.newer:
                match = CrosswalkMatch.WITHIN if split else CrosswalkMatch.EXACT
                self._backward[newer] = Translated(link.older, match)

    @property
    def vintages(self) -> frozenset[str]:
        return frozenset((self.older_vintage, self.newer_vintage))

    def admin2(self, code: str, source: str, target: str) -> Translated | None:
        """`code` (a cercle of vintage `source`) in vintage `target`; None when not listed."""
        if source == target:
            return Translated(code, CrosswalkMatch.EXACT)
        if (source, target) == (self.older_vintage, self.newer_vintage):
            return self._forward.get(code)
        if (source, target) == (self.newer_vintage, self.older_vintage):
            return self._backward.get(code)
        return None
