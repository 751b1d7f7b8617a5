from datetime import timedelta

import pytest
from kitflow_distribution.config import DistributionSettings
from pydantic import ValidationError


def test_a_reservation_lasts_two_weeks_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert DistributionSettings().reservation_life == timedelta(days=14)
    monkeypatch.setenv("KITFLOW_DISTRIBUTION_RESERVATION_LIFE", "P30D")
    assert DistributionSettings().reservation_life == timedelta(days=30)


@pytest.mark.parametrize("life", ["PT0S", "PT30M", "P91D"])
def test_a_reservation_life_stock_would_refuse_or_that_holds_nothing_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, life: str
) -> None:
    monkeypatch.setenv("KITFLOW_DISTRIBUTION_RESERVATION_LIFE", life)
    with pytest.raises(ValidationError, match="reservation_life"):
        DistributionSettings()
