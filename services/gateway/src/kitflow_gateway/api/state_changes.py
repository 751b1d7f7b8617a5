"""Every public route that changes state, with what keeps a repeat from having a second effect:
the README's table (a test holds the README to this), and the gateway's own routes' entries.

Every one of them accepts Idempotency-Key (ADR 0011): a repeat with the same key gets the first
answer and changes nothing. The table says what protects a client that sends no key."""

from __future__ import annotations

from dataclasses import dataclass

from kitflow_gateway.api.proxy import ROUTES, Repeat


@dataclass(frozen=True)
class StateChange:
    method: str
    path: str
    owner: str
    repeat: Repeat
    natural_key: str = ""
    note: str = ""


GATEWAY_OWN = (
    StateChange("POST", "/v1/auth/token", "gateway", Repeat.NO_EFFECT,
                note="issues a token; counts against the sign-in limits; takes no key"),
    StateChange("POST", "/v1/organisations", "gateway", Repeat.NATURAL_KEY, "`organisation_id`"),
    StateChange("PATCH", "/v1/organisations/{organisation_id}", "gateway", Repeat.IDEMPOTENT,
                note="with a key, a late retry does not undo a later change"),
    StateChange("POST", "/v1/users", "gateway", Repeat.NATURAL_KEY, "`username`"),
    StateChange("PATCH", "/v1/users/{user_id}", "gateway", Repeat.IDEMPOTENT,
                note="with a key, a late retry does not undo a later change"),
    StateChange("POST", "/v1/api-keys", "gateway", Repeat.IDEMPOTENCY_KEY,
                note="a repeat gets the key without its secret, which was shown once"),
    StateChange("DELETE", "/v1/api-keys/{key_id}", "gateway", Repeat.IDEMPOTENT),
)  # fmt: skip


def state_changes() -> list[StateChange]:
    proxied = [
        StateChange(r.method, r.path, r.service, r.repeat, r.natural_key)
        for r in ROUTES
        if r.changes_state and r.repeat is not None
    ]
    return [*GATEWAY_OWN, *proxied]


def markdown_table() -> str:
    lines = [
        "| method | path | served by | without an Idempotency-Key, a repeat is ... |",
        "|---|---|---|---|",
    ]
    for change in state_changes():
        what = {
            Repeat.NATURAL_KEY: f"refused by its natural key, {change.natural_key}",
            Repeat.IDEMPOTENCY_KEY: "a second effect: send an Idempotency-Key",
            Repeat.IDEMPOTENT: "no second effect: it sets a state a repeat finds set (or a 409)",
            Repeat.NO_EFFECT: "harmless: it changes nothing",
        }[change.repeat]
        if change.note:
            what = f"{what} ({change.note})"
        lines.append(f"| {change.method} | `{change.path}` | {change.owner} | {what} |")
    return "\n".join(lines) + "\n"
