"""What can go wrong in the gateway's own domain, in its words; the API maps each to a problem."""

from __future__ import annotations


class GatewayError(Exception):
    """Base of the domain's errors."""


class Unauthenticated(GatewayError):
    """The credential is missing, malformed, forged, expired or revoked (one answer for all, so a
    caller learns nothing about which)."""


class NotFound(GatewayError):
    """No such object, or one the caller may not see (the two are never told apart)."""

    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"no {kind} {identifier}")
        self.kind = kind
        self.identifier = identifier


class AlreadyExists(GatewayError):
    def __init__(self, kind: str, identifier: str, field: str) -> None:
        super().__init__(f"{kind} {identifier} already exists")
        self.kind = kind
        self.identifier = identifier
        self.field = field


class InvalidInput(GatewayError):
    """A business rule the request breaks, naming the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Forbidden(GatewayError):
    """The caller is known but may not do this."""


class Conflict(GatewayError):
    """The object changed while the request was being applied; the client may retry."""
