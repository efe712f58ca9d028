"""The package surface: public names, cheap import, version, and import directions."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import lumadb

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "lumadb"


def test_public_names_are_pinned() -> None:
    assert sorted(lumadb.__all__) == sorted(
        [
            "BackupError",
            "Collection",
            "CollectionExists",
            "CollectionNotFound",
            "ConfigError",
            "Conflict",
            "CorruptionError",
            "DataDirLocked",
            "Database",
            "DatabaseClosed",
            "DiskFullError",
            "DocumentExists",
            "DocumentNotFound",
            "DocumentTooLarge",
            "DurabilityError",
            "Forbidden",
            "InvalidArgument",
            "InvalidCollectionName",
            "InvalidDocument",
            "InvalidId",
            "InvalidInput",
            "LumaError",
            "MalformedRequest",
            "MethodNotAllowed",
            "NotFound",
            "ReadOnlyError",
            "RequestTimeout",
            "RequestTooLarge",
            "StorageError",
            "TooManyRequests",
            "Unauthorized",
            "Unavailable",
            "UniqueViolation",
            "UnsupportedMediaType",
            "VersionMismatch",
            "__version__",
            "connect",
            "connect_async",
            "open",
        ]
    )
    for name in lumadb.__all__:
        assert getattr(lumadb, name) is not None


def test_every_error_has_a_code_and_status() -> None:
    codes = set()
    for name in lumadb.__all__:
        obj = getattr(lumadb, name)
        if isinstance(obj, type) and issubclass(obj, lumadb.LumaError):
            assert 400 <= obj.status < 600, name
            assert obj.code not in codes or obj is lumadb.LumaError, name
            codes.add(obj.code)
    err = lumadb.InvalidId("bad")
    assert err.to_dict() == {"error": {"code": "invalid_id", "message": "bad"}}


def test_import_is_cheap() -> None:
    heavy = ["rocksdict", "faiss", "torch", "duckdb", "granian", "uvicorn", "numpy", "httpx"]
    code = f"import sys, lumadb; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert lumadb.__version__ == project["version"]


# Which top-level packages each package may import (ARCHITECTURE.md §4).
BASE = {"errors", "config", "clock", "_version"}
ALLOWED = {
    "config": {"errors"},
    "ai": BASE,
    "storage": BASE,
    "catalog": BASE | {"storage", "ai"},
    "service": BASE | {"storage", "catalog", "ai"},
    "query": BASE | {"service", "catalog", "ai"},
    "analytics": BASE | {"service", "storage", "query"},
    "cli": BASE | {"service", "_embedded", "server", "query"},
    "_embedded": BASE | {"service", "storage", "query", "analytics", "vector", "nlq", "events"},
    "events": BASE | {"service", "storage", "query"},
    "nlq": BASE | {"service", "query", "ai"},
    "vector": BASE | {"service", "catalog", "storage"},
    "api": BASE | {"service", "catalog", "query", "nlq", "events"},
    "server": BASE
    | {"service", "catalog", "storage", "api", "_embedded", "analytics", "vector", "events"},
    "client": BASE | {"service"},
}


def _lumadb_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lumadb"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "lumadb" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_import_directions() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        top = rel.parts[0].removesuffix(".py")
        if top not in ALLOWED:
            continue
        bad = _lumadb_imports(path) - ALLOWED[top] - {top}
        if bad:
            violations.append(f"{rel}: imports {sorted(bad)}")
    assert violations == []


def _files_mentioning(text: str) -> set[str]:
    return {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if text in p.read_text()}


def test_rocksdict_is_imported_in_one_module() -> None:
    assert _files_mentioning("import rocksdict") == {"storage/lsm/rocks.py"}


def test_only_config_reads_the_environment() -> None:
    readers = _files_mentioning("os.environ") | _files_mentioning("getenv")
    assert {r for r in readers if not r.startswith("config/")} == set()
