"""`make run`'s options: how long the services get to be ready, by option, by setting, or the
default of each mode (90 s, 240 s in cluster mode)."""

from __future__ import annotations

import pytest

from tests.unit.deploy.scripts import load_script

run_system = load_script("run_system")
SETTING = "KITFLOW_SERVICES_READY_TIMEOUT_S"


def test_the_default_ready_timeout_is_each_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SETTING, raising=False)

    assert run_system._arguments([]).ready_timeout == 90
    assert run_system._arguments(["--cluster"]).ready_timeout == 240


def test_the_setting_then_the_option_set_the_ready_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SETTING, "300")

    assert run_system._arguments(["--cluster"]).ready_timeout == 300
    assert run_system._arguments(["--ready-timeout", "45"]).ready_timeout == 45


@pytest.mark.parametrize("seconds", ["0", "-5", "nan", "soon"])
def test_a_ready_timeout_that_is_not_a_positive_number_is_refused(
    seconds: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        run_system._arguments(["--ready-timeout", seconds])

    assert stopped.value.code == 2
    assert "--ready-timeout" in capsys.readouterr().err


def test_a_setting_that_is_not_a_number_is_refused_like_the_option(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SETTING, "ninety")

    with pytest.raises(SystemExit):
        run_system._arguments([])

    assert "--ready-timeout" in capsys.readouterr().err
