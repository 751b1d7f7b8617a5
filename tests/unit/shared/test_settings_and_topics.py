import pytest
from kitflow_shared.settings import CommonSettings
from kitflow_shared.topics import ALL_TOPICS, CONSUMER_GROUPS, EVENT_TOPICS, qualify, topic_config
from pydantic import ValidationError


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITFLOW_ENV", "production")
    with pytest.raises(ValidationError, match="KITFLOW_INTERNAL_SECRET"):
        CommonSettings()
    monkeypatch.setenv("KITFLOW_INTERNAL_SECRET", "x" * 40)
    assert CommonSettings().internal_secret.get_secret_value() == "x" * 40


def test_a_namespace_prefixes_databases_and_topics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KITFLOW_NAMESPACE", "staging")
    settings = CommonSettings()
    assert settings.database_name("stock") == "staging_kitflow_stock"
    assert qualify("kitflow.stock.events", settings.namespace) == "staging.kitflow.stock.events"
    monkeypatch.setenv("KITFLOW_NAMESPACE", "")
    assert CommonSettings().database_name("stock") == "kitflow_stock"


def test_every_consumer_group_has_its_own_dead_letter_topic_and_subscribes_to_declared_topics() -> (
    None
):
    declared = {t.name for t in EVENT_TOPICS}
    dead_letters = [g.dead_letter.name for g in CONSUMER_GROUPS]
    assert len(set(dead_letters)) == len(CONSUMER_GROUPS)
    for group in CONSUMER_GROUPS:
        assert set(group.subscribes) <= declared
        assert group.dead_letter in ALL_TOPICS
        assert group.dead_letter.name == f"{group.name}.dlq"


def test_event_topics_keep_events_forever_so_read_models_can_be_rebuilt() -> None:
    assert all(t.retention_ms == -1 for t in EVENT_TOPICS)


@pytest.mark.parametrize(("replicas", "in_sync"), [(1, None), (2, None), (3, "2"), (5, "2")])
def test_replicated_topics_need_two_copies_of_a_write(replicas: int, in_sync: str | None) -> None:
    # The producers send with acks=all: on three replicas, a write is acknowledged once two hold
    # it, so one broker can be lost without losing it and without stopping the writes.
    for spec in ALL_TOPICS:
        config = topic_config(spec, replicas)
        assert config.get("min.insync.replicas") == in_sync
        assert config["retention.ms"] == str(spec.retention_ms)
