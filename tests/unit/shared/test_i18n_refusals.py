"""Every refusal the services write reads in French (issue #14's promise, kept as code grows).

The scan reads the services' and the shared library's sources: each error, field problem or
`message()` built there with a sentence. A sentence written as an f-string is filled with
sample values and must be recognised from a catalogue template; a `message()` template must be
in the catalogue as it is written."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from kitflow_shared.errors import message
from kitflow_shared.i18n import render
from kitflow_shared.i18n_catalogue import FR

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [ROOT / "shared" / "src", *sorted((ROOT / "services").glob("*/src"))]
ERROR_KINDS = {"KitflowError", "NotFound", "NotPermitted", "Conflict", "ConcurrentChange"}
# Calls whose argument at this position is a reason (the field name comes first).
REASON_AFTER_FIELD = {"FieldProblem", "of"}
TEMPLATES = {"message", "Message"}
# Where a gateway kind ("API key") is a noun put into a sentence, not a sentence itself.
NOUNS = {"NotFound", "AlreadyExists"}


def _name(node: ast.expr) -> str:
    """`Name` for a bare name, `name` for `owner.name`."""
    return node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")


def _trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(), str(p)) for s in SOURCES for p in sorted(s.rglob("*.py"))}


def _error_classes(trees: dict[Path, ast.Module]) -> set[str]:
    """The shared error kinds and every class in the code that derives from one."""
    names = set(ERROR_KINDS) | {"InvalidInput"}
    grew = True
    while grew:
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {_name(b) for b in node.bases}
                    if bases & names:
                        names.add(node.name)
                        grew = True
    return names


def _sample(node: ast.expr) -> str | None:
    """A string argument as the code would make it, with sample values in an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else f"V{n}"
            for n, part in enumerate(node.values)
        )
    return None


def _sentences() -> Iterator[tuple[str, str, bool]]:
    """(where, sentence, is a template) for each sentence a person may read."""
    trees = _trees()
    errors = _error_classes(trees)
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = _name(func)
            owner = _name(func.value) if isinstance(func, ast.Attribute) else ""
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name in TEMPLATES and node.args:
                text = _sample(node.args[0])
                if isinstance(node.args[0], ast.Constant) and text:
                    yield where, text, True
                continue
            if name in REASON_AFTER_FIELD and (name == "FieldProblem" or owner in errors):
                arguments = node.args[1:2]
            elif name in errors and name not in NOUNS:
                arguments = node.args[:1]
            else:
                continue
            for argument in arguments:
                text = _sample(argument)
                if text and " " in text.strip():
                    yield where, text, False


def test_every_refusal_written_in_the_code_reads_in_french() -> None:
    sentences = list(_sentences())
    # The scan finds the code's sentences (a refactoring hiding them would pass vacuously).
    assert len(sentences) > 150
    missing = [
        f"{where}: {text}"
        for where, text, is_template in sentences
        if (text not in FR if is_template else render(text, "fr") == text)
    ]
    assert missing == [], "refusals without French:\n" + "\n".join(missing)


def test_a_sentence_built_from_pieces_reads_in_french_piece_by_piece() -> None:
    # The gazetteer adds a hint to a refusal; the hint is a sentence of its own.
    hint = message("; the P-code of {name} is {pcode}", name="Mopti", pcode="ML05")
    refusal = message(
        "{code} is not an admin1 P-code: ML followed by 2 digits, e.g. ML05 for Mopti{hint}",
        code="'Mopti'",
        hint=hint,
    )
    assert str(refusal).endswith("; the P-code of Mopti is ML05")
    assert render(refusal, "fr") == (
        "'Mopti' n'est pas un P-code de région : ML suivi de 2 chiffres, par ex. ML05 pour "
        "Mopti ; le P-code de Mopti est ML05"
    )
    # An empty piece leaves nothing behind, in either language.
    bare = message(
        "{code} is not an admin1 P-code: ML followed by 2 digits, e.g. ML05 for Mopti{hint}",
        code="'X'",
        hint="",
    )
    assert render(bare, "fr").endswith("pour Mopti")


def test_a_noun_put_into_a_sentence_is_translated_with_it() -> None:
    missing_key = message("no {kind} {identifier}", kind=message("API key"), identifier="k-1")
    assert render(missing_key, "fr") == "clé d'API k-1 introuvable"
