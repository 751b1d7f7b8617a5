"""No function in services/ or shared/ runs past 80 lines (tools/long_functions.py measures).

A reader should see a function whole: `python -m tools.long_functions` lists the long ones.
"""

from __future__ import annotations

from tools.long_functions import LIMIT, long_functions

CHECKED = ("services", "shared")


def test_no_function_in_services_or_shared_is_longer_than_the_limit() -> None:
    too_long = [str(function) for function in long_functions(CHECKED, LIMIT)]
    assert too_long == [], f"functions over {LIMIT} lines (split them):\n" + "\n".join(too_long)
