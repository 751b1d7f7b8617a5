"""`make run-cluster`'s Kafka cluster id: URL-safe base64 of 16 random bytes, as Kafka's own, and
never starting with "-". `make chaos`'s CI test failed once to start: the id drawn began with
"-" and kafka-storage's argument parser took it for an option ("argument --cluster-id/-t:
expected one argument"). One id in 64 does; Kafka's Uuid.randomUuid draws again for the same
reason."""

from __future__ import annotations

from collections.abc import Iterator

from tests.unit.deploy.scripts import load_script

cluster = load_script("cluster")
# 0xf8: its first six bits (62) are "-" in URL-safe base64.
STARTS_WITH_DASH = bytes([0xF8]) + bytes(15)
FINE = bytes(range(16))


def test_an_id_that_would_start_with_a_dash_is_drawn_again() -> None:
    draws: Iterator[bytes] = iter([STARTS_WITH_DASH, FINE])
    made = cluster.new_cluster_id(lambda: next(draws))
    assert made == "AAECAwQFBgcICQoLDA0ODw"
    assert not made.startswith("-")


def test_ids_are_kafkas_form_22_characters_without_padding() -> None:
    made = cluster.new_cluster_id()
    assert len(made) == 22
    assert "=" not in made
