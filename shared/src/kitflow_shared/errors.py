"""One vocabulary of what can go wrong, for every service (issue #13).

Each service's domain errors derive from these five kinds, and the API answers each kind the
same way everywhere (`kitflow_shared.web.problems.KIND_PROBLEMS`): not found 404, not permitted
403, conflict and concurrent change 409, invalid input 422 naming each field and why.

Messages are for people, and people read French or English (issue #14). So an error keeps its
sentence as an English template with its parameters (`Message`), not only as a formatted string;
the API can then render it in the caller's language from a catalogue keyed by the template. A
`Message` is also the English sentence itself (a `str`), so logs, tests and every place that
reads a reason as text keep working unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Self


class Message(str):
    """A sentence: its English template (`"no warehouse with code {code!r}"`) and parameters.

    The string value is the English sentence; `template` and `params` let a catalogue render it
    in another language. A sentence given without parameters is its own template."""

    template: str
    params: Mapping[str, Any]

    def __new__(cls, template: str, params: Mapping[str, Any] | None = None) -> Message:
        frozen = MappingProxyType(dict(params or {}))
        text = template.format(**frozen) if frozen else template
        self = super().__new__(cls, text)
        self.template = template
        self.params = frozen
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Message, (self.template, dict(self.params)))


def message(template: str, **params: Any) -> Message:
    """`message("no plan {plan_id!r}", plan_id=plan_id)`: the sentence, kept translatable."""
    return Message(template, params)


Text = Message | str


def as_message(text: Text) -> Message:
    return text if isinstance(text, Message) else Message(text)


class KitflowError(Exception):
    """Base of every domain error of every service; `message` is what a person reads."""

    def __init__(self, text: Text) -> None:
        self.message = as_message(text)
        super().__init__(str(self.message))


class NotFound(KitflowError):
    """No such object, or one the caller may not see (the two are never told apart)."""


class NotPermitted(KitflowError):
    """The caller is known but may not do this."""


class Conflict(KitflowError):
    """The request conflicts with the object's current state (a duplicate, a transition the
    status does not allow)."""


class ConcurrentChange(Conflict):
    """Someone else changed the object between our read and our write; the caller may retry."""


class FieldProblem:
    """One offending value: where it is (a dotted path such as `population.households`) and why."""

    __slots__ = ("field", "reason")

    def __init__(self, field: str, reason: Text) -> None:
        self.field = field
        self.reason = as_message(reason)

    def under(self, prefix: str) -> FieldProblem:
        return FieldProblem(f"{prefix}.{self.field}" if prefix else self.field, self.reason)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldProblem):
            return NotImplemented
        return (self.field, str(self.reason)) == (other.field, str(other.reason))

    def __hash__(self) -> int:
        return hash((self.field, str(self.reason)))

    def __repr__(self) -> str:
        return f"FieldProblem({self.field!r}, {str(self.reason)!r})"


class InvalidInput(KitflowError):
    """One or more values break a business rule; names each field and why."""

    def __init__(self, *problems: FieldProblem) -> None:
        if not problems:
            raise ValueError("InvalidInput needs at least one problem")
        self.problems = list(problems)
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))

    @classmethod
    def of(cls, field: str, reason: Text) -> Self:
        """One field and why: `InvalidInput.of("lines.0.quantity", "must be positive")`."""
        return cls(FieldProblem(field, reason))

    @property
    def field(self) -> str:
        """The first (often the only) offending field."""
        return self.problems[0].field

    @property
    def reason(self) -> Message:
        return self.problems[0].reason

    def under(self, prefix: str) -> Self:
        return type(self)(*(p.under(prefix) for p in self.problems))
