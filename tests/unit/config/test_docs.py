"""luma.toml.example, docs/configuration.md and the settings structs describe the same keys."""

from __future__ import annotations

import re
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

import lumadb.config
from lumadb.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "luma.toml.example"
DOCS = REPO / "docs" / "configuration.md"


def _struct_types(annotation: object) -> list[type[msgspec.Struct]]:
    """The struct types an annotation holds: one for a section, several for a tagged union."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for m in typing.get_args(annotation) if isinstance(m, type)]
    return []


def _leaf_keys(
    cls: type[msgspec.Struct], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Every leaf setting as a path, walking all variants of tagged unions."""
    for info in msgspec.structs.fields(cls):
        path = (*prefix, info.name)
        nested = _struct_types(info.type)
        if not nested:
            yield path
        for struct in nested:
            if struct.__struct_config__.tag_field is not None:
                yield (*path, struct.__struct_config__.tag_field)
            yield from _leaf_keys(struct, path)


LEAVES = sorted(set(_leaf_keys(Settings)))
LEAF_IDS = [".".join(path) for path in LEAVES]


def _section_text(section: str) -> str:
    """The lines of luma.toml.example from ``[section]`` to the next section header."""
    text = EXAMPLE.read_text(encoding="utf-8")
    match = re.search(rf"^\[{section}\]\n(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"luma.toml.example has no [{section}] section"
    return match.group(1)


def test_the_walk_finds_every_kind_of_setting() -> None:
    assert ("server", "port") in LEAVES
    assert ("tiering", "warm_policy", "strategy", "type") in LEAVES
    assert ("tiering", "warm_policy", "strategy", "copies") in LEAVES
    assert ("tiering", "warm_policy", "strategy", "parity_shards") in LEAVES
    assert ("auth", "jwt_secret") in LEAVES
    assert len(LEAVES) == 60


@pytest.mark.parametrize("path", LEAVES, ids=LEAF_IDS)
def test_every_setting_is_in_the_example_under_its_section(path: tuple[str, ...]) -> None:
    section, *rest = path
    text = _section_text(section)
    for name in rest:
        assert re.search(rf"\b{name}\b", text), f"{name} missing from [{section}]"


@pytest.mark.parametrize("section", [info.name for info in msgspec.structs.fields(Settings)])
def test_every_key_has_a_default_line_in_the_example(section: str) -> None:
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    cls = typing.get_type_hints(Settings)[section]
    assert set(example[section]) == {info.name for info in msgspec.structs.fields(cls)}
    for name in example[section]:
        comment = rf"^# {name}: .*\n(?:#.*\n)*{name} = "
        assert re.search(comment, _section_text(section), re.MULTILINE), (
            f"{section}.{name} needs a '# {name}: ...' comment above its line"
        )


@pytest.mark.parametrize("path", LEAVES, ids=LEAF_IDS)
def test_every_setting_is_in_the_docs_table(path: tuple[str, ...]) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert f"| `{'.'.join(path)}` |" in docs


def test_docs_table_has_no_stale_keys() -> None:
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", DOCS.read_text(encoding="utf-8"), re.M))
    known = set(LEAF_IDS) | {"tiering.warm_policy.strategy"}
    assert documented == known


def test_example_loads_to_the_defaults() -> None:
    assert load_settings(EXAMPLE, env={}) == Settings()


def test_public_api_is_pinned() -> None:
    assert lumadb.config.__all__ == [
        "AuthSettings",
        "ChangefeedSettings",
        "EmbeddingSettings",
        "ErasureCoding",
        "EventsSettings",
        "LogSettings",
        "NlqSettings",
        "Replication",
        "ServerSettings",
        "Settings",
        "StorageSettings",
        "TieringSettings",
        "WarmPolicy",
        "failpoints",
        "handoff_env",
        "key_from_env",
        "load_settings",
        "node_pid",
        "parse_duration",
        "parse_size",
        "publish_handoff",
        "quiet_model_libraries",
        "settings_from_handoff",
    ]
    for name in lumadb.config.__all__:
        assert getattr(lumadb.config, name).__doc__, f"{name} needs a docstring"
