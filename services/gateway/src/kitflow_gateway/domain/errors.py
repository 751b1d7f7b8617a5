"""What can go wrong in the gateway's own domain, in its words; the API maps each to a problem.

Every error but a refused credential is one of the five shared kinds (`kitflow_shared.errors`),
which the API answers the same way in every service.
"""

from __future__ import annotations

from kitflow_shared import errors as kinds
from kitflow_shared.errors import message


class GatewayError(kinds.KitflowError):
    """Base of the domain's errors."""


class Unauthenticated(GatewayError):
    """The credential is missing, malformed, forged, expired or revoked (one answer for all, so a
    caller learns nothing about which)."""


class NotFound(GatewayError, kinds.NotFound):
    """No such object, or one the caller may not see (the two are never told apart)."""

    def __init__(self, kind: str, identifier: str) -> None:
        # The kind is a noun of the sentence ("API key"), translated with it.
        super().__init__(
            message("no {kind} {identifier}", kind=message(kind), identifier=identifier)
        )
        self.kind = kind
        self.identifier = identifier


class AlreadyExists(GatewayError, kinds.Conflict):
    def __init__(self, kind: str, identifier: str, field: str) -> None:
        super().__init__(
            message("{kind} {identifier} already exists", kind=message(kind), identifier=identifier)
        )
        self.kind = kind
        self.identifier = identifier
        self.field = field


class InvalidInput(GatewayError, kinds.InvalidInput):
    """A business rule the request breaks, naming the field."""


class NotPermitted(GatewayError, kinds.NotPermitted):
    """The caller is known but may not do this."""


class ConcurrentChange(GatewayError, kinds.ConcurrentChange):
    """The object changed while the request was being applied; the client may retry."""
