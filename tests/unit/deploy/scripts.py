"""deploy/local is a folder of scripts, not a package: its tests load a script by its path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

LOCAL = Path(__file__).resolve().parents[3] / "deploy" / "local"


def load_script(name: str) -> ModuleType:
    """deploy/local/<name>.py as the module `kitflow_local_<name>`; its folder on the path, as
    when the script runs, for the siblings it imports by name (run_system: cluster, supervision)."""
    if str(LOCAL) not in sys.path:
        sys.path.append(str(LOCAL))
    spec = importlib.util.spec_from_file_location(f"kitflow_local_{name}", LOCAL / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
