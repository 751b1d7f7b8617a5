"""French and English for what people read from the API: problem titles and details, the
reasons of refused fields, printed documents (issue #14).

The catalogue is keyed by the English text (`kitflow_shared.i18n_catalogue`): English is the
key itself, so a sentence without a French entry reads in English rather than not at all. A
sentence with parameters is kept as an English template plus its parameters (anything with
`.template` and `.params`, such as `kitflow_shared.errors.Message`); it is translated as a
template and then filled in. A sentence that arrives already filled in is matched against the
catalogue's templates, so that today's plain-string errors read in French too.

The language of a request comes from its Accept-Language header (`negotiate`): French when the
caller prefers French to English, English otherwise (API callers that send no header).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from typing import Any, Literal, Protocol, runtime_checkable

from babel.dates import format_date as babel_format_date
from babel.numbers import format_decimal

from kitflow_shared.i18n_catalogue import FR, PYDANTIC_FR

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")
DEFAULT_LANGUAGE: Language = "en"
# CLDR locales for numbers and dates: Mali's French (`1 234,5`, `06/12/2026`); for English,
# day-month-year as international staff in Mali write it, never the American month first.
LOCALES: Mapping[Language, str] = {"fr": "fr_ML", "en": "en_GB"}
DATE_FORMATS: Mapping[Language, str] = {"fr": "dd/MM/yyyy", "en": "d MMM yyyy"}
CATALOGUES: Mapping[Language, Mapping[str, str]] = {"fr": FR, "en": {}}

_BY_TAG: Mapping[str, Language] = {language: language for language in LANGUAGES}
_language: ContextVar[Language] = ContextVar("kitflow_language", default=DEFAULT_LANGUAGE)


@runtime_checkable
class MessageLike(Protocol):
    """A sentence as an English template (`"no warehouse {code}"`) and its parameters."""

    @property
    def template(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Any]: ...


Text = str | MessageLike


def negotiate(accept_language: str | None) -> Language:
    """The language to answer in, from an Accept-Language header (RFC 9110 §12.5.4): the
    supported language the caller weighs highest (the first named, between equal weights);
    English when it names neither."""
    candidates: list[tuple[float, int, Language]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, parameters = part.strip().partition(";")
        primary = _BY_TAG.get(re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower())
        weight = _weight(parameters)
        if primary is not None and weight > 0:
            candidates.append((-weight, position, primary))
    return min(candidates)[2] if candidates else DEFAULT_LANGUAGE


def _weight(parameters: str) -> float:
    for parameter in parameters.split(";"):
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def current_language() -> Language:
    """The language of the request being answered (English outside a request)."""
    return _language.get()


@contextmanager
def speaking(language: Language) -> Iterator[None]:
    """Answer in `language` within this block (set per request by the service app)."""
    token = _language.set(language)
    try:
        yield
    finally:
        _language.reset(token)


def translate(text: str, language: Language | None = None) -> str:
    """The text in `language` when the catalogue has it, else the text as it is."""
    return CATALOGUES[language or current_language()].get(text, text)


def render(text: Text, language: Language | None = None) -> str:
    """A sentence for a person: a template translated then filled in, or a plain string
    translated (exactly, or as an instance of a known template)."""
    language = language or current_language()
    if isinstance(text, MessageLike):
        if text.params:
            return _fill(text.template, dict(text.params), language)
        # A sentence wrapped already filled in (a domain's f-string): read as plain text.
        text = text.template
    if language == DEFAULT_LANGUAGE or not text:
        return text
    exact = CATALOGUES[language].get(text)
    if exact is not None:
        return exact
    matched = _match_template(text)
    if matched is None:
        return text
    template, params = matched
    # A sentence built around another ("{reason}; nothing was imported"): that one too.
    return _fill(template, {k: CATALOGUES[language].get(v, v) for k, v in params.items()}, language)


def _fill(template: str, params: dict[str, Any], language: Language) -> str:
    translated = translate(template, language)
    values = {name: _value(value, language) for name, value in params.items()}
    try:
        return translated.format(**values)
    except (KeyError, IndexError, ValueError):
        # A translation that names a parameter the template lacks: the English sentence is
        # better than none.
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            return template


def _value(value: Any, language: Language) -> Any:
    """A parameter as the sentence shows it: a piece of sentence (a hint added to a refusal,
    a noun such as "API key") in the language too, numbers and dates in its forms."""
    if isinstance(value, MessageLike):
        return render(value, language)
    return _localised(value, language) if language != DEFAULT_LANGUAGE else value


def _localised(value: Any, language: Language) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return format_number(value, language)
    if isinstance(value, datetime | date):
        return format_date(value, language)
    return value


@cache
def _template_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each catalogue template with parameters as a pattern that recovers them from the
    filled-in English sentence."""
    patterns = []
    for template in FR:
        if "{" not in template:
            continue
        parts = re.split(r"{(\w+)}", template)
        regex = "".join(
            re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
            for index, part in enumerate(parts)
        )
        try:
            patterns.append((re.compile(f"^{regex}$", re.DOTALL), template))
        except re.error:
            continue  # a parameter named twice: only ever rendered from a Message
    return tuple(patterns)


def _match_template(text: str) -> tuple[str, dict[str, str]] | None:
    for pattern, template in _template_patterns():
        found = pattern.match(text)
        if found:
            return template, found.groupdict()
    return None


def field_reason(error_type: str, context: Mapping[str, Any] | None, english: str) -> str:
    """One pydantic validation error's reason in the current language: French from the error's
    type and context when the catalogue has its type, else pydantic's English message."""
    language = current_language()
    if language == DEFAULT_LANGUAGE:
        return english
    template = PYDANTIC_FR.get(error_type)
    if template is None:
        return english
    values = dict(context or {})
    if "error" in values:
        # Our own validators' sentences (control characters, ...), French when catalogued.
        values["error"] = render(str(values["error"]), language)
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return english


def format_number(value: float, language: Language | None = None) -> str:
    """`1 234,5` in French (Mali), `1,234.5` in English."""
    return format_decimal(value, locale=LOCALES[language or current_language()])


def format_date(value: date | datetime, language: Language | None = None) -> str:
    """`06/12/2026` in French (Mali), `6 Dec 2026` in English."""
    language = language or current_language()
    day = value.date() if isinstance(value, datetime) else value
    return babel_format_date(day, DATE_FORMATS[language], locale=LOCALES[language])
