"""The event context of a request: the events a request causes carry its correlation id."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from kitflow_shared.events.envelope import EventContext
from kitflow_shared.logging import correlation_id_var


async def event_context() -> EventContext:
    correlation_id = correlation_id_var.get()
    return EventContext(correlation_id) if correlation_id else EventContext.new()


Context = Annotated[EventContext, Depends(event_context)]
