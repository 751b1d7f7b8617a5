"""A KoboToolbox submission read as a one-row HXL sheet, so that the same reader (hxl_io) and
the same checks as a file import apply, and a refused answer names the Kobo question.

Which question feeds which field: a question named by an HXL hashtag itself (a form whose
question names, or its REST Service's custom wrapper, use `#adm2+code` and the like), or the
organisation's mapping (question path → hashtag, `PUT /v1/integrations/kobo/mapping`). The
mapping wins where both apply. Kobo's metadata (`_uuid`, `_id`, `_submission_time`, …) is never
a need's field; `_uuid` becomes the need's `#meta+id` (`kobo:<uuid>`), so a retried delivery
finds the need it made."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kitflow_needs.adapters.hxl_io import read_needs_file
from kitflow_needs.domain.errors import UnreadableFile
from kitflow_needs.handlers.imports import ImportRow

REFERENCE_PREFIX = "kobo:"


def submission_uuid(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("_uuid")
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return None
    return value.strip()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def hashtag_columns(
    payload: Mapping[str, Any], mapping: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """(question, hashtag, value) for every question that feeds a field."""
    columns = []
    for question, value in payload.items():
        if question.startswith("_") or isinstance(value, dict | list):
            continue
        tag = mapping.get(question) or (question if question.startswith("#") else None)
        # The need's reference is always the submission's _uuid (added by read_submission).
        if tag and not tag.replace(" ", "").startswith("#meta+id"):
            columns.append((question, tag, _cell(value)))
    return columns


def read_submission(
    payload: Mapping[str, Any], mapping: Mapping[str, str], *, organisation: str
) -> ImportRow:
    """The submission as one import row; UnreadableFile names what was expected when the
    submission does not carry a need's required fields."""
    uuid = submission_uuid(payload)
    if uuid is None:
        raise UnreadableFile("a KoboToolbox submission carries its `_uuid` (a string)")
    columns = hashtag_columns(payload, mapping)
    columns.append(("_uuid", "#meta+id", REFERENCE_PREFIX + uuid))
    out = io.StringIO()
    writer = csv.writer(out)
    # No header row above the hashtags: a question named by its hashtag would look like a
    # second hashtag row. Refusals are renamed to the questions below.
    writer.writerow([tag for _, tag, _ in columns])
    writer.writerow([value for _, _, value in columns])
    try:
        sheet = read_needs_file(out.getvalue().encode(), organisation=organisation)
    except UnreadableFile as exc:
        raise UnreadableFile(
            f"{exc}: map the form's questions to HXL hashtags "
            "(PUT /v1/integrations/kobo/mapping) or name them by their hashtags",
            missing=exc.missing,
        ) from None
    if len(sheet.rows) != 1:
        raise UnreadableFile("the submission gives no need")
    row = sheet.rows[0]
    # A refusal names the question the partner knows, not the hashtag it was mapped to.
    question_of = {tag.replace(" ", "").lower(): question for question, tag, _ in columns}
    return replace(
        row,
        columns={
            path: question_of.get(column.replace(" ", "").lower(), column)
            for path, column in row.columns.items()
        },
    )
