"""Hand-written fakes of kitflow_shared's ports (never mocks of libraries)."""

from __future__ import annotations

from collections.abc import Sequence

from kitflow_shared.events.envelope import CloudEvent


class FakePublisher:
    def __init__(self, fail_times: int = 0) -> None:
        self.sent: list[tuple[str, CloudEvent]] = []
        self.parked: list[tuple[str, bytes, dict[str, bytes]]] = []
        self.fail_times = fail_times

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("broker down")
        self.sent.extend((topic, e) for e in events)

    async def park(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.parked.append((topic, value, dict(headers)))
