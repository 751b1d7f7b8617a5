"""Value types that several contracts use."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# OCHA P-codes for Mali (COD-AB): admin1 "ML05" (Mopti), admin2 "ML0501". They are not ISO 3166-2
# codes ("ML-5"), which is why the pattern has no hyphen.
Admin1Pcode = Annotated[str, StringConstraints(pattern=r"^ML[0-9]{2}$")]
Admin2Pcode = Annotated[str, StringConstraints(pattern=r"^ML[0-9]{4}$")]
OrganisationId = Annotated[
    str, StringConstraints(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]


class GeoPoint(BaseModel):
    """WGS84 coordinates in decimal degrees."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lat: float = Field(ge=-90, le=90, examples=[14.4939])
    lon: float = Field(ge=-180, le=180, examples=[-4.1966])
