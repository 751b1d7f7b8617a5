"""What can go wrong in the needs domain, in terms a partner or a coordinator understands.

Every error a client sees is one of the five shared kinds (`kitflow_shared.errors`), which the
API answers the same way in every service; the ones here say more (their own slug, the status
the need is in).
"""

from __future__ import annotations

from kitflow_shared import errors as kinds
from kitflow_shared.errors import FieldProblem, message

__all__ = [
    "ConcurrentChange",
    "DuplicateProfile",
    "FieldProblem",
    "IdempotentReplay",
    "InvalidInput",
    "InvalidTransition",
    "NeedsError",
    "NotPermitted",
    "RequestInProgress",
    "UnknownKoboSubmission",
    "UnknownNeed",
    "UnknownProfile",
    "UnreadableFile",
]


class NeedsError(kinds.KitflowError):
    """Base of every domain error."""


class InvalidInput(NeedsError, kinds.InvalidInput):
    """One or more values break a business rule; names each field and why."""


class UnknownNeed(NeedsError, kinds.NotFound):
    """No such need, or one the caller may not see (the two are not told apart)."""

    def __init__(self, need_id: str) -> None:
        super().__init__(message("no need with id {need_id!r}", need_id=need_id))
        self.need_id = need_id


class UnknownKoboSubmission(NeedsError, kinds.NotFound):
    def __init__(self, uuid: str) -> None:
        super().__init__(
            message("no KoboToolbox submission {uuid!r} of your organisation", uuid=uuid)
        )
        self.uuid = uuid


class UnknownProfile(NeedsError, kinds.NotFound):
    def __init__(self, profile_id: str) -> None:
        super().__init__(message("no norms profile with id {profile_id!r}", profile_id=profile_id))
        self.profile_id = profile_id


class DuplicateProfile(NeedsError, kinds.Conflict):
    def __init__(self, profile_id: str) -> None:
        super().__init__(
            message("a norms profile with id {profile_id!r} already exists", profile_id=profile_id)
        )
        self.profile_id = profile_id


class NotPermitted(NeedsError, kinds.NotPermitted):
    """The caller's role does not allow this."""


class InvalidTransition(NeedsError, kinds.Conflict):
    """The need's status does not allow this (e.g. validating a cancelled need)."""

    def __init__(self, need_id: str, status: str, action: str, hint: str = "") -> None:
        template = "need {need_id} is {status}: it cannot be {action}"
        super().__init__(
            message(
                template + "; {hint}" if hint else template,
                need_id=need_id,
                status=status,
                action=action,
                hint=hint,
            )
        )
        self.need_id = need_id
        self.status = status
        self.action = action


class ConcurrentChange(NeedsError, kinds.ConcurrentChange):
    """Someone else changed the aggregate between our read and our write; the caller may retry."""


class IdempotentReplay(NeedsError):
    """The store already holds a need created with this Idempotency-Key (a retried request)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            message("a need was already created with the Idempotency-Key {key!r}", key=key)
        )
        self.key = key


class RequestInProgress(NeedsError, kinds.Conflict):
    """A request with this Idempotency-Key is still running (an import): retry shortly for its
    answer."""

    def __init__(self, key: str, retry_after_s: int) -> None:
        super().__init__(
            message(
                "a request with the Idempotency-Key {key!r} is still being processed; "
                "retry in {retry_after_s} s for its answer",
                key=key,
                retry_after_s=retry_after_s,
            )
        )
        self.key = key
        self.retry_after_s = retry_after_s


class UnreadableFile(NeedsError):
    """The uploaded file cannot be imported at all (not HXL, required columns missing, ...):
    nothing of it is imported."""

    def __init__(self, reason: str, *, missing: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing
