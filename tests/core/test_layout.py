"""The package layout keeps its promises: short modules, errors in one home, no private name
crossing a package, and an `import espkit` that loads only what it needs.

The layers and the absence of import cycles are checked by import-linter (`lint-imports`,
configured in pyproject.toml) in CI; these are the rules it cannot express.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "espkit"
MODULE_LIMIT = 500
# control flow that never reaches a caller: the emulator turns ApiError into HTTP answers and
# NetworkFault into a requests ConnectionError; a provider turns Malformed into ProtocolError
INTERNAL_SIGNALS = {"espkit.sandbox.store.ApiError", "espkit.sandbox.emulator.NetworkFault",
                    "espkit.providers.payload.Malformed"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(path: Path) -> str:
    """The package a file belongs to (a package's __init__ belongs to that package)."""
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_layout_is_found() -> None:
    names = {module_name(p) for p in MODULES}
    for package in ("espkit.transport", "espkit.providers", "espkit.sandbox", "espkit.account",
                    "espkit.bulk", "espkit.fleet", "espkit.verify", "espkit.dns", "espkit.cli"):
        assert package in names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_doing_two_jobs(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MODULE_LIMIT, \
        f"{path.relative_to(ROOT)} has {lines} lines (limit {MODULE_LIMIT})"


def test_every_exception_class_lives_in_errors() -> None:
    elsewhere = []
    for path in MODULES:
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {ast.unparse(b) for b in node.bases}
            if any(b.endswith(("Error", "Exception", "Interrupt", "Interrupted", "Timeout"))
                   for b in bases):
                qualified = f"{module_name(path)}.{node.name}"
                if qualified not in INTERNAL_SIGNALS:
                    elsewhere.append(qualified)
    assert elsewhere == []


def private_imports(path: Path, own_package: str) -> list[str]:
    """``from espkit.x import _name`` where espkit.x is not in ``own_package``."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "espkit":
            source_package = node.module
            same = source_package == own_package or source_package.startswith(own_package + ".")
            # a module of the importer's own package counts as inside it
            if not same and own_package and node.module.rpartition(".")[0] == own_package:
                same = True
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__") and not same:
                    found.append(f"{path.relative_to(ROOT)}: {node.module}.{alias.name}")
    return found


def test_no_private_name_crosses_a_package() -> None:
    crossing = []
    for path in MODULES:
        crossing += private_imports(path, package_of(path))
    for path in sorted((ROOT / "tests").rglob("*.py")):
        crossing += private_imports(path, "")  # tests are outside every package
    assert crossing == []


def test_tests_do_not_reach_into_private_module_state() -> None:
    """Tests use the public hooks (``ratelimit.set_default_clock``,
    ``providers.registry_snapshot``, injectable clocks) rather than ``module._name``."""
    reaching = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        espkit_names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module \
                    and node.module.split(".")[0] == "espkit":
                espkit_names |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                espkit_names |= {a.asname or a.name.split(".")[0] for a in node.names
                                 if a.name.split(".")[0] == "espkit"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in espkit_names and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                reaching.append(f"{path.relative_to(ROOT)}:{node.lineno} "
                                f"{node.value.id}.{node.attr}")
    assert reaching == []


def test_import_espkit_loads_only_what_it_needs() -> None:
    heavy = ("espkit.account", "espkit.bulk", "espkit.verify", "espkit.fleet", "espkit.cli",
             "espkit.fleet.loader", "requests", "sqlite3", "click", "rich", "yaml",
             "jsonschema", "dns.resolver", "redis", "boto3")
    code = ("import sys, espkit\n"
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))\n"
            "espkit.connect\n"  # the first use loads the account layer
            "print('espkit.account' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["", "True"]


def test_test_modules_have_unique_names() -> None:
    """pytest imports test modules by basename (rootdir-relative packages are not used), so
    two ``test_x.py`` in different folders collide at collection."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
