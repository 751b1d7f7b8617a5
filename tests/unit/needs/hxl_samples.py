"""Seeded HXL files of needs for the tests and the benchmark (the same generator for both)."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

HEADERS = [
    ("Ref", "#meta+id"),
    ("Région P-code", "#adm1+code"),
    ("Région", "#adm1+name"),
    ("Cercle P-code", "#adm2+code"),
    ("Cercle", "#adm2+name"),
    ("Site", "#loc+name"),
    ("Lat", "#geo+lat"),
    ("Lon", "#geo+lon"),
    ("Statut", "#beneficiary+type"),
    ("Ménages", "#inneed+hh"),
    ("Personnes", "#inneed+ind"),
    ("Femmes", "#inneed+f+adults"),
    ("Sévérité", "#severity"),
    ("Date évaluation", "#date+assessed"),
    ("Round DTM", "#round+code"),
    ("Article", "#item+code"),
    ("Quantité", "#item+num"),
    ("Article 2", "#item+code"),
    ("Quantité 2", "#item+num"),
]
FIRST_DATA_ROW = 3  # after the header row and the hashtag row

CERCLES = [
    ("ML05", "Mopti", "ML0501", "Mopti", 14.49, -4.19),
    ("ML05", "Mopti", "ML0502", "Bandiagara", 14.35, -3.61),
    ("ML05", "Mopti", "ML0506", "Douentza", 15.00, -2.95),
    ("ML06", "Tombouctou", "ML0601", "Tombouctou", 16.77, -3.01),
    ("ML06", "Tombouctou", "ML0604", "Gourma-Rharous", 16.88, -1.93),
    ("ML07", "Gao", "ML0701", "Gao", 16.27, -0.04),
    ("ML07", "Gao", "ML0704", "Ménaka", 15.92, 2.40),
    ("ML09", "Bamako", "ML0901", "Bamako", 12.64, -8.00),
]
ITEMS = ["KIT-NFI", "KIT-SHELTER-EMERGENCY", "JERRYCAN-20L", "BLANKET", "SLEEPING-MAT"]

# Each bad row breaks one rule; the column the report must name.
BAD_KINDS = [
    ("negative households", "#inneed+hh"),
    ("ISO code", "#adm1+code"),
    ("unknown item", "#item+code"),
    ("more households than people", "#inneed+hh"),
    ("not a date", "#date+assessed"),
    ("name does not match its code", "#adm2+code"),
    ("severity out of range", "#severity"),
]


@dataclass(frozen=True)
class Sample:
    text: str
    rows: int
    bad_rows: dict[int, str]  # spreadsheet row number → the column the report should name

    @property
    def good_rows(self) -> int:
        return self.rows - len(self.bad_rows)


def generate(rows: int, *, bad_every: int = 100, seed: int = 7, prefix: str = "R") -> Sample:
    """`rows` data rows; every `bad_every`-th row is bad (1 % by default)."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([h for h, _ in HEADERS])
    writer.writerow([t for _, t in HEADERS])
    bad: dict[int, str] = {}
    for i in range(rows):
        a1, a1_name, a2, a2_name, lat, lon = rng.choice(CERCLES)
        households = rng.randint(5, 400)
        individuals = households * rng.randint(3, 8)
        women = individuals // 4
        first, second = rng.sample(ITEMS, 2)
        row = [
            f"{prefix}{i:06d}",
            a1,
            a1_name,
            a2,
            a2_name,
            f"Site {i % 997}",
            f"{lat + rng.uniform(-0.2, 0.2):.5f}",
            f"{lon + rng.uniform(-0.2, 0.2):.5f}",
            rng.choice(["idp", "returnee", "host-community", "PDI"]),
            str(households),
            str(individuals),
            str(women),
            str(rng.randint(1, 5)),
            f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            f"R{rng.randint(1, 20)}",
            first,
            str(households),
            second,
            str(households * 2),
        ]
        if bad_every and i % bad_every == bad_every // 2:
            kind, column = BAD_KINDS[(i // bad_every) % len(BAD_KINDS)]
            _break(row, kind)
            bad[i + FIRST_DATA_ROW] = column
        writer.writerow(row)
    return Sample(out.getvalue(), rows, bad)


def _break(row: list[str], kind: str) -> None:
    if kind == "negative households":
        row[9] = "-12"
    elif kind == "ISO code":
        row[1] = "ML-5"
    elif kind == "unknown item":
        row[15] = "TENT-FAMILY"
    elif kind == "more households than people":
        row[9] = str(int(row[10]) + 1)
    elif kind == "not a date":
        row[13] = "last week"
    elif kind == "name does not match its code":
        row[4] = "Kidal"
    elif kind == "severity out of range":
        row[12] = "9"
