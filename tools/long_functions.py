"""List the functions longer than a limit (80 lines by default), longest first.

    uv run python -m tools.long_functions [--limit 80] [ROOT ...]

A function's length is what a reader scrolls through: from its `def` line to its last line,
inclusive (blank lines, comments and the docstring count; decorators do not). Nested functions
and methods are measured on their own, and also count inside the function that holds them.
Tests are left out: a test reads top to bottom on purpose. The unit test
tests/unit/test_function_length.py holds services/ and shared/ to the limit.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

LIMIT = 80
ROOTS = ("services", "shared", "bench", "deploy")
REPOSITORY = Path(__file__).resolve().parent.parent
# Test code and whatever tools install next to the source (a virtualenv, caches).
SKIPPED_DIRECTORIES = frozenset({"tests", ".venv", "__pycache__", ".local", "node_modules"})


@dataclass(frozen=True, order=True)
class LongFunction:
    lines: int
    path: str
    name: str
    line: int

    def __str__(self) -> str:
        return f"{self.lines:5d}  {self.path}:{self.line}  {self.name}"


def source_files(roots: Iterable[str], repository: Path = REPOSITORY) -> Iterator[Path]:
    for root in roots:
        for path in sorted((repository / root).rglob("*.py")):
            relative = path.relative_to(repository)
            if not SKIPPED_DIRECTORIES.intersection(relative.parts):
                yield path


def functions_in(path: Path, repository: Path = REPOSITORY) -> Iterator[LongFunction]:
    """Every function and method in one file, with its length; names are qualified by class
    and enclosing function (`Planner.explain`, `create_app.ready`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    relative = path.relative_to(repository).as_posix()

    def visit(node: ast.AST, prefix: str) -> Iterator[LongFunction]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                end = child.end_lineno if child.end_lineno is not None else child.lineno
                yield LongFunction(end - child.lineno + 1, relative, name, child.lineno)
                yield from visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, prefix + child.name + ".")
            else:
                yield from visit(child, prefix)

    yield from visit(tree, "")


def long_functions(
    roots: Iterable[str] = ROOTS, limit: int = LIMIT, repository: Path = REPOSITORY
) -> list[LongFunction]:
    found = [
        function
        for path in source_files(roots, repository)
        for function in functions_in(path, repository)
        if function.lines > limit
    ]
    return sorted(found, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", default=list(ROOTS))
    parser.add_argument("--limit", type=int, default=LIMIT)
    arguments = parser.parse_args()
    found = long_functions(arguments.roots, arguments.limit)
    for function in found:
        print(function)
    print(f"{len(found)} functions over {arguments.limit} lines in {', '.join(arguments.roots)}")


if __name__ == "__main__":
    main()
