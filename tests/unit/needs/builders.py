"""Sentence-like builders of need inputs for the tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from kitflow_needs.domain.intake import NeedInput
from kitflow_needs.domain.need import (
    Assessment,
    AssessmentSource,
    Coordinates,
    DisplacementStatus,
    Population,
)

SEVARE = NeedInput(
    admin1_pcode="ML05",
    admin2_pcode="ML0501",
    admin2_name="Mopti",
    site_name="Sévaré 2",
    coordinates=Coordinates(14.53, -4.09),
    population=Population(households=120, individuals=640, women=180),
    displacement=DisplacementStatus.IDP,
    assessment=Assessment(date(2025, 3, 1), AssessmentSource.DTM_ROUND, "R12"),
    severity=4,
    items=(("KIT-NFI", 120), ("JERRYCAN-20L", 240)),
)

CREATE_BODY: dict[str, Any] = {
    "location": {
        "admin1_pcode": "ML05",
        "admin2_pcode": "ML0501",
        "admin2_name": "Mopti",
        "site_name": "Sévaré 2",
        "coordinates": {"lat": 14.53, "lon": -4.09},
    },
    "population": {"households": 120, "individuals": 640, "women": 180},
    "displacement_status": "idp",
    "assessment": {"date": "2025-03-01", "source": "dtm-round", "reference": "R12"},
    "severity": 4,
    "items": [
        {"item_code": "KIT-NFI", "quantity": 120},
        {"item_code": "JERRYCAN-20L", "quantity": 240},
    ],
}


def need_input(**changes: Any) -> NeedInput:
    return replace(SEVARE, **changes)
