"""What can go wrong in the needs domain, in terms a partner or a coordinator understands."""

from __future__ import annotations

from dataclasses import dataclass


class NeedsError(Exception):
    """Base of every domain error."""


@dataclass(frozen=True)
class FieldProblem:
    """One offending value: where it is (a dotted path such as `population.households`) and why."""

    field: str
    reason: str

    def under(self, prefix: str) -> FieldProblem:
        return FieldProblem(f"{prefix}.{self.field}" if prefix else self.field, self.reason)


class InvalidInput(NeedsError):
    """One or more values break a business rule; names each field and why."""

    def __init__(self, *problems: FieldProblem) -> None:
        if not problems:
            raise ValueError("InvalidInput needs at least one problem")
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))
        self.problems = list(problems)

    @classmethod
    def of(cls, field: str, reason: str) -> InvalidInput:
        return cls(FieldProblem(field, reason))

    def under(self, prefix: str) -> InvalidInput:
        return InvalidInput(*(p.under(prefix) for p in self.problems))


class UnknownNeed(NeedsError):
    """No such need, or one the caller may not see (the two are not told apart)."""

    def __init__(self, need_id: str) -> None:
        super().__init__(f"no need with id {need_id!r}")
        self.need_id = need_id


class UnknownProfile(NeedsError):
    def __init__(self, profile_id: str) -> None:
        super().__init__(f"no norms profile with id {profile_id!r}")
        self.profile_id = profile_id


class DuplicateProfile(NeedsError):
    def __init__(self, profile_id: str) -> None:
        super().__init__(f"a norms profile with id {profile_id!r} already exists")
        self.profile_id = profile_id


class NotPermitted(NeedsError):
    """The caller's role does not allow this."""


class InvalidTransition(NeedsError):
    """The need's status does not allow this (e.g. validating a cancelled need)."""

    def __init__(self, need_id: str, status: str, action: str, hint: str = "") -> None:
        message = f"need {need_id} is {status}: it cannot be {action}"
        super().__init__(f"{message}; {hint}" if hint else message)
        self.need_id = need_id
        self.status = status
        self.action = action


class ConcurrentChange(NeedsError):
    """Someone else changed the aggregate between our read and our write; the caller may retry."""


class IdempotentReplay(NeedsError):
    """The store already holds a need created with this Idempotency-Key (a retried request)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"a need was already created with the Idempotency-Key {key!r}")
        self.key = key


class RequestInProgress(NeedsError):
    """A request with this Idempotency-Key is still running (an import): retry shortly for its
    answer."""

    def __init__(self, key: str, retry_after_s: int) -> None:
        super().__init__(
            f"a request with the Idempotency-Key {key!r} is still being processed; "
            f"retry in {retry_after_s} s for its answer"
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
