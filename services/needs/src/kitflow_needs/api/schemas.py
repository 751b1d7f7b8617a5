"""The API's request and response bodies (XCreate, XUpdate, XPublic), and their translation."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from kitflow_shared.contracts.common import GeoPoint
from kitflow_shared.contracts.needs import AssessmentSource, DisplacementStatus, NeedStatus
from kitflow_shared.text import MultilineText, PeopleCount, PlainText, Quantity
from pydantic import BaseModel, ConfigDict, Field

from kitflow_needs.domain.catalogue import ItemCatalogue
from kitflow_needs.domain.duplicates import reason_for_partner
from kitflow_needs.domain.intake import NeedInput
from kitflow_needs.domain.need import (
    MAX_SEVERITY,
    Assessment,
    Coordinates,
    Need,
    Population,
)
from kitflow_needs.domain.need import AssessmentSource as DomainSource
from kitflow_needs.domain.need import DisplacementStatus as DomainDisplacement
from kitflow_needs.domain.norms import (
    MAX_DURATION_DAYS,
    MAX_RULE_AMOUNT,
    RULE_AMOUNT_DECIMALS,
    Basis,
    Calculation,
    NormRule,
    NormsProfile,
    NormsResult,
)

# P-codes are text here, not patterns: the gazetteer check explains what is wrong with a code
# (an ISO 3166-2 code, another vintage, a name that does not match) better than a regex can.
# Every text a caller sends is one line without control characters (kitflow_shared.text), and
# every count is bounded well inside what the store holds: a 422 naming the field, never a 500.
Code = PlainText
DurationDays = Annotated[int, Field(ge=1, le=MAX_DURATION_DAYS)]
# An amount per person or per item of a norms rule: positive, at most a billion, six decimals
# at most, so that the exact arithmetic of a calculation stays small.
RuleAmount = Annotated[
    Decimal, Field(gt=0, le=MAX_RULE_AMOUNT, decimal_places=RULE_AMOUNT_DECIMALS)
]


class LocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admin1_pcode: Code = Field(max_length=16, examples=["ML05"])
    admin2_pcode: Code = Field(max_length=16, examples=["ML0501"])
    admin3_pcode: Code | None = Field(default=None, max_length=16, examples=["ML050101"])
    admin1_name: PlainText | None = Field(
        default=None, max_length=100, description="Checked against the code when given"
    )
    admin2_name: PlainText | None = Field(
        default=None, max_length=100, description="Checked against the code when given"
    )
    site_name: PlainText | None = Field(default=None, max_length=200, examples=["Sévaré 2"])
    coordinates: GeoPoint | None = None
    vintage: Code | None = Field(
        default=None,
        max_length=32,
        description="The P-code vintage the codes are in (GET /v1/reference/gazetteer lists "
        "them); by default cod-ab-2015. The need is reported in the service's reporting vintage.",
        examples=["cod-ab-2021"],
    )


class PopulationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    households: PeopleCount = Field(examples=[120])
    individuals: PeopleCount = Field(examples=[640])
    women: PeopleCount | None = None
    men: PeopleCount | None = None
    girls: PeopleCount | None = None
    boys: PeopleCount | None = None
    elderly: PeopleCount | None = None
    disabled: PeopleCount | None = Field(default=None, description="People with disabilities")


class AssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date  # between 2000-01-01 and 2100-12-31 (checked with the other rules)
    source: AssessmentSource
    reference: PlainText | None = Field(
        default=None, max_length=200, description="The DTM round, or the partner's report"
    )


class PeriodIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date | None = Field(default=None, description="Default: the assessment date")
    end: date | None = Field(
        default=None, description="Default: the start plus the profile's duration (or 30 days)"
    )


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_code: PlainText = Field(min_length=1, max_length=64, examples=["KIT-NFI"])
    quantity: Quantity = Field(examples=[120])


# A norms rule is named by the item code it computes (a profile has one rule per item).
RuleCode = Annotated[PlainText, Field(min_length=1, max_length=64)]
RULES_DESCRIPTION = (
    "Which of the profile's rules apply, by their item codes (e.g. only the stockable items, "
    "not water in litres); every rule when left out"
)


def rule_codes(rules: list[str] | None) -> tuple[str, ...] | None:
    return None if rules is None else tuple(code.strip().upper() for code in rules)


class NormsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: PlainText = Field(max_length=64, examples=["sphere-minimum"])
    duration_days: DurationDays | None = Field(default=None, description="Default: the profile's")
    rules: list[RuleCode] | None = Field(
        default=None,
        max_length=100,
        description=RULES_DESCRIPTION,
        examples=[["KIT-NFI", "JERRYCAN-20L", "SOAP-BATH-250G"]],
    )


class NeedUpdate(BaseModel):
    """A need's details, replaced as a whole."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
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
                    "norms": {"profile_id": "sphere-minimum"},
                    "items": [{"item_code": "BLANKET", "quantity": 240}],
                }
            ]
        },
    )

    location: LocationIn
    population: PopulationIn
    displacement_status: DisplacementStatus
    assessment: AssessmentIn
    severity: int = Field(ge=1, le=MAX_SEVERITY, description="1 (least) to 5 (most severe)")
    period: PeriodIn | None = None
    items: list[ItemIn] = Field(
        default_factory=list,
        max_length=200,
        description="Item or kit quantities; they take precedence over the profile's",
    )
    norms: NormsIn | None = Field(
        default=None, description="Compute quantities from the population with this profile"
    )
    external_ref: PlainText | None = Field(
        default=None, max_length=100, description="The partner's own reference"
    )

    def to_input(self) -> NeedInput:
        loc, pop = self.location, self.population
        return NeedInput(
            admin1_pcode=loc.admin1_pcode,
            admin2_pcode=loc.admin2_pcode,
            admin3_pcode=loc.admin3_pcode,
            admin1_name=loc.admin1_name,
            admin2_name=loc.admin2_name,
            vintage=loc.vintage,
            site_name=loc.site_name,
            coordinates=Coordinates(loc.coordinates.lat, loc.coordinates.lon)
            if loc.coordinates
            else None,
            population=Population(**pop.model_dump()),
            displacement=DomainDisplacement(self.displacement_status.value),
            assessment=Assessment(
                self.assessment.date,
                DomainSource(self.assessment.source.value),
                self.assessment.reference,
            ),
            severity=self.severity,
            period_start=self.period.start if self.period else None,
            period_end=self.period.end if self.period else None,
            items=tuple((i.item_code.strip().upper(), i.quantity) for i in self.items),
            profile_id=self.norms.profile_id if self.norms else None,
            duration_days=self.norms.duration_days if self.norms else None,
            norm_rules=rule_codes(self.norms.rules) if self.norms else None,
            external_ref=self.external_ref,
        )


class NeedCreate(NeedUpdate):
    """A new need of the caller's organisation."""

    submit: bool = Field(
        default=True, description="Submit at once (default) or keep it as a private draft"
    )


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: MultilineText = Field(min_length=1, max_length=500)


class PopulationPublic(BaseModel):
    # Answers are not held to the input's bounds: what is stored is shown as it is.
    households: int
    individuals: int
    women: int | None = None
    men: int | None = None
    girls: int | None = None
    boys: int | None = None
    elderly: int | None = None
    disabled: int | None = None


class AssessmentPublic(BaseModel):
    date: date
    source: AssessmentSource
    reference: str | None = None


class PlaceCodesPublic(BaseModel):
    vintage: str
    admin1_pcode: str
    admin2_pcode: str
    admin3_pcode: str | None


class LocationPublic(BaseModel):
    admin1_pcode: str
    admin1_name: str
    admin2_pcode: str
    admin2_name: str | None
    admin3_pcode: str | None
    site_name: str | None
    coordinates: GeoPoint | None
    gazetteer_vintage: str
    admin2_verified: bool = Field(description="False when the gazetteer does not list it")
    admin3_verified: bool
    as_given: PlaceCodesPublic | None = Field(
        default=None,
        description="The codes as given, when they were given in another vintage than the "
        "reporting one (gazetteer_vintage)",
    )
    crosswalk: str | None = Field(
        default=None,
        description="How the given cercle matched the reporting vintage: exact, split (it became "
        "several cercles: reported as the one that kept its name), within (read back as the "
        "older cercle that contained it), unmapped (carried over, unverified)",
    )


class CalculationPublic(BaseModel):
    item_code: str
    basis: Basis
    basis_count: int
    amount: Decimal
    amount_unit: str
    per_days: int | None
    duration_days: int
    content_per_item: Decimal
    quantity: int
    formula: str

    @classmethod
    def of(cls, c: Calculation) -> CalculationPublic:
        return cls(**c.__dict__)


class NeedItemPublic(BaseModel):
    item_code: str
    name: str | None
    unit: str | None
    requested: int
    planned: int
    reserved: int
    dispatched: int
    delivered: int
    remaining: int
    calculation: CalculationPublic | None = Field(
        description="How the quantity was computed, when it came from the norms profile"
    )


class SkippedRulePublic(BaseModel):
    item_code: str
    basis: Basis
    reason: str


class NormsResultPublic(BaseModel):
    profile_id: str
    profile_version: int
    duration_days: int
    rules: list[str] | None = Field(
        description="The rules chosen, by item code; null when every rule of the profile applies"
    )
    calculations: list[CalculationPublic]
    skipped: list[SkippedRulePublic]

    @classmethod
    def of(cls, r: NormsResult) -> NormsResultPublic:
        return cls(
            profile_id=r.profile_id,
            profile_version=r.profile_version,
            duration_days=r.duration_days,
            rules=None if r.rules is None else list(r.rules),
            calculations=[CalculationPublic.of(c) for c in r.calculations],
            skipped=[SkippedRulePublic(**s.__dict__) for s in r.skipped],
        )


class DuplicatePublic(BaseModel):
    need_id: str
    organisation: str = Field(description="The organisation to talk to")
    reason: str = Field(
        description="Why the two needs may be the same; for a partner, unless the cluster "
        "chose otherwise, only whom to talk to (not the other organisation's need)"
    )
    decision: str


class NeedPublic(BaseModel):
    id: str
    organisation: str
    status: NeedStatus
    version: int = Field(description="Increases with every change")
    location: LocationPublic
    population: PopulationPublic
    displacement_status: DisplacementStatus
    assessment: AssessmentPublic
    severity: int
    period_start: date
    period_end: date
    items: list[NeedItemPublic]
    norms: NormsResultPublic | None
    external_ref: str | None
    possible_duplicates: list[DuplicatePublic]
    rejection_reason: str | None
    cancellation_reason: str | None
    merged_into: str | None
    validated_by: str | None
    households_reached: int
    individuals_reached: int
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(
        cls, need: Need, catalogue: ItemCatalogue, *, duplicate_details: bool = True
    ) -> NeedPublic:
        """The need as its reader sees it; without `duplicate_details`, a possible duplicate
        says whom to talk to, not what the other organisation's need holds."""
        d = need.details
        loc = d.location
        calculations = {i.item_code: i.calculation for i in d.items}
        items = []
        for line in need.lines():
            known = catalogue.get(line.item_code)
            calc = calculations.get(line.item_code)
            items.append(
                NeedItemPublic(
                    item_code=line.item_code,
                    name=known.name if known else None,
                    unit=known.unit if known else None,
                    requested=line.requested,
                    planned=line.planned,
                    reserved=line.reserved,
                    dispatched=line.dispatched,
                    delivered=line.delivered,
                    remaining=line.remaining,
                    calculation=CalculationPublic.of(calc) if calc else None,
                )
            )
        return cls(
            id=need.need_id,
            organisation=need.organisation,
            status=NeedStatus(need.status.value),
            version=need.sequence,
            location=LocationPublic(
                admin1_pcode=loc.admin1_pcode,
                admin1_name=loc.admin1_name,
                admin2_pcode=loc.admin2_pcode,
                admin2_name=loc.admin2_name,
                admin3_pcode=loc.admin3_pcode,
                site_name=loc.site_name,
                coordinates=GeoPoint(lat=loc.coordinates.lat, lon=loc.coordinates.lon)
                if loc.coordinates
                else None,
                gazetteer_vintage=loc.gazetteer_vintage,
                admin2_verified=loc.admin2_verified,
                admin3_verified=loc.admin3_verified,
                as_given=PlaceCodesPublic(**asdict(loc.as_given)) if loc.as_given else None,
                crosswalk=loc.crosswalk,
            ),
            population=PopulationPublic(**d.population.__dict__),
            displacement_status=DisplacementStatus(d.displacement.value),
            assessment=AssessmentPublic(
                date=d.assessment.assessed_on,
                source=AssessmentSource(d.assessment.source.value),
                reference=d.assessment.reference,
            ),
            severity=d.severity,
            period_start=d.period.start,
            period_end=d.period.end,
            items=items,
            norms=NormsResultPublic.of(d.norms) if d.norms else None,
            external_ref=d.external_ref,
            possible_duplicates=[
                DuplicatePublic(
                    need_id=link.need_id,
                    organisation=link.organisation,
                    reason=link.reason if duplicate_details else reason_for_partner(link),
                    decision=link.decision.value,
                )
                for link in need.duplicates
            ],
            rejection_reason=need.rejection_reason,
            cancellation_reason=need.cancellation_reason,
            merged_into=need.merged_into,
            validated_by=need.validated_by,
            households_reached=need.reached.households,
            individuals_reached=need.reached.individuals,
            created_by=need.created_by,
            created_at=need.created_at,
            updated_at=need.updated_at,
        )


class NeedPage(BaseModel):
    items: list[NeedPublic]
    total: int
    limit: int
    offset: int


class RowErrorPublic(BaseModel):
    row: int = Field(description="The row as a spreadsheet numbers it (1 = the first line)")
    column: str = Field(description="The HXL hashtag of the offending column")
    reason: str


class ImportReportPublic(BaseModel):
    rows: int = Field(description="Data rows read (after grouping rows of one #meta+id)")
    imported: int
    updated: int
    unchanged: int
    rejected: int
    errors: list[RowErrorPublic]
    created: list[str] = Field(description="Ids of the needs this import created")


class NormRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_code: PlainText = Field(min_length=1, max_length=64)
    basis: Basis
    amount: RuleAmount = Field(description="Per basis unit, per period")
    amount_unit: PlainText = Field(min_length=1, max_length=20, examples=["l", "g", "piece"])
    per_days: DurationDays | None = Field(
        default=None, description="The period in days; null for once"
    )
    content_per_item: RuleAmount = Field(
        default=Decimal(1), description="How much of the amount one item holds (250 g per bar)"
    )
    note: MultilineText = Field(default="", max_length=300)


class NormRulePublic(BaseModel):
    item_code: str
    basis: Basis
    amount: Decimal
    amount_unit: str
    per_days: int | None
    content_per_item: Decimal
    note: str


class NormsProfileCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile_id: PlainText = Field(max_length=64, examples=["mopti-flood-2025"])
    name: PlainText = Field(min_length=1, max_length=200)
    description: MultilineText = Field(default="", max_length=2000)
    duration_days: DurationDays = Field(default=30)
    rules: list[NormRuleIn] = Field(max_length=100)
    sources: list[Annotated[PlainText, Field(max_length=500)]] = Field(
        default_factory=list, max_length=50
    )
    based_on: PlainText | None = Field(default=None, max_length=64)

    def to_profile(self, profile_id: str | None = None) -> NormsProfile:
        return NormsProfile(
            profile_id=profile_id or self.profile_id,
            name=self.name,
            description=self.description,
            duration_days=self.duration_days,
            rules=tuple(
                NormRule(
                    item_code=r.item_code.strip().upper(),
                    basis=r.basis,
                    amount=r.amount,
                    amount_unit=r.amount_unit,
                    per_days=r.per_days,
                    content_per_item=r.content_per_item,
                    note=r.note,
                )
                for r in self.rules
            ),
            sources=tuple(self.sources),
            based_on=self.based_on,
        )


class NormsProfileUpdate(NormsProfileCreate):
    expected_version: int | None = Field(
        default=None,
        ge=1,
        le=2**31,
        description="Refuse the change if the profile moved past this version",
    )


class NormsProfilePublic(BaseModel):
    profile_id: str
    version: int
    name: str
    description: str
    duration_days: int
    rules: list[NormRulePublic]
    sources: list[str]
    based_on: str | None

    @classmethod
    def of(cls, p: NormsProfile) -> NormsProfilePublic:
        return cls(
            profile_id=p.profile_id,
            version=p.version,
            name=p.name,
            description=p.description,
            duration_days=p.duration_days,
            rules=[NormRulePublic(**r.__dict__) for r in p.rules],
            sources=list(p.sources),
            based_on=p.based_on,
        )


class CalculationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    population: PopulationIn
    duration_days: DurationDays | None = None
    rules: list[RuleCode] | None = Field(
        default=None, max_length=100, description=RULES_DESCRIPTION
    )
