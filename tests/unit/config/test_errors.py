"""Every way a configuration can be wrong, and that the message says key, value and origin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from lumadb.config import Settings, load_settings
from lumadb.errors import ConfigError

WriteToml = Callable[[str], Path]

SECTIONS = [info.name for info in msgspec.structs.fields(Settings)]


def _message(**kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(**kwargs)  # type: ignore[arg-type]
    return info.value.message


def _file_message(write_toml: WriteToml, text: str) -> tuple[str, str]:
    path = write_toml(text)
    return _message(path=path, env={}), str(path)


@pytest.mark.parametrize("section", SECTIONS)
def test_unknown_key_in_each_section(write_toml: WriteToml, section: str) -> None:
    message, path = _file_message(write_toml, f"[{section}]\nbogus_key = 1\n")
    assert f"unknown key {section}.bogus_key = 1 (from {path})" in message
    assert f"known keys in [{section}]:" in message


def test_unknown_key_lists_known_keys_and_suggests(write_toml: WriteToml) -> None:
    message, _ = _file_message(write_toml, "[storage]\nshardz = 4\n")
    assert "unknown key storage.shardz = 4" in message
    assert "data_dir, shards, durability" in message
    assert "did you mean storage.shards?" in message


def test_unknown_section(write_toml: WriteToml) -> None:
    message, path = _file_message(write_toml, "[storge]\nshards = 4\n")
    assert f"unknown key storge = {{ shards = 4 }} (from {path})" in message
    assert (
        "known sections: server, auth, storage, changefeed, analytics, embeddings, nlq, events, "
        "tiering, log" in message
    )


def test_unknown_key_in_nested_tables(write_toml: WriteToml) -> None:
    message, _ = _file_message(write_toml, "[tiering.warm_policy]\nenable = true\n")
    assert "unknown key tiering.warm_policy.enable = true" in message
    assert "known keys in [tiering.warm_policy]: enabled, strategy" in message
    message, _ = _file_message(
        write_toml, '[tiering.warm_policy.strategy]\ntype = "Replication"\ncopies = 2\nparity = 1\n'
    )
    assert "unknown key tiering.warm_policy.strategy.parity = 1" in message
    assert 'with type = "Replication": type, copies' in message


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[server]\nport = "eighty"\n',
            'server.port = "eighty" (from {path}): expected an integer',
        ),
        ("[server]\nport = 80.5\n", "server.port = 80.5 (from {path}): expected an integer"),
        ("[server]\nport = true\n", "server.port = true (from {path}): expected an integer"),
        ("[server]\nhost = 1\n", "server.host = 1 (from {path}): expected a string"),
        ("[server]\nhost = 1979-05-27\n", "server.host = 1979-05-27 (from {path}): expected a"),
        (
            '[tiering.warm_policy]\nenabled = "yes"\n',
            'tiering.warm_policy.enabled = "yes" (from {path}): expected true or false',
        ),
        (
            '[storage]\nbloom_bits_per_key = "ten"\n',
            'storage.bloom_bits_per_key = "ten" (from {path}): expected a number',
        ),
        ("server = 5\n", "server = 5 (from {path}): expected a table"),
        (
            "[tiering]\nwarm_policy = true\n",
            "tiering.warm_policy = true (from {path}): expected a table",
        ),
        ("[server.port]\nx = 1\n", "server.port = {{ x = 1 }} (from {path}): expected an integer"),
    ],
)
def test_wrong_type(write_toml: WriteToml, toml: str, expected: str) -> None:
    message, path = _file_message(write_toml, toml)
    assert expected.format(path=path) in message


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[server]\nport = 0\n", "server.port = 0 (from {path}): must be between 1 and 65535"),
        ("[server]\nport = 70000\n", "server.port = 70000 (from {path}): must be between 1 and"),
        ('[server]\nhost = ""\n', 'server.host = "" (from {path}): must not be empty'),
        ('[storage]\ndata_dir = ""\n', 'storage.data_dir = "" (from {path}): must not be empty'),
        ("[storage]\nshards = 1025\n", "storage.shards = 1025 (from {path}): must be between 0"),
        ("[storage]\nshards = -1\n", "storage.shards = -1 (from {path}): must be between 0"),
        ("[storage]\nhot_cache = -1\n", "storage.hot_cache = -1 (from {path}): must not be"),
        (
            '[storage]\nwrite_buffer = "512KiB"\n',
            'storage.write_buffer = "512KiB" (from {path}): must be at least 1MiB',
        ),
        (
            '[storage]\nmax_document_size = "512B"\n',
            'storage.max_document_size = "512B" (from {path}): must be between 1KiB and 256MiB',
        ),
        (
            '[storage]\nmax_document_size = "1GiB"\n',
            "must be between 1KiB and 256MiB",
        ),
        (
            "[storage]\nbloom_bits_per_key = 64.5\n",
            "storage.bloom_bits_per_key = 64.5 (from {path}): must be between 0 and 64",
        ),
        (
            "[storage]\nbloom_bits_per_key = nan\n",
            "storage.bloom_bits_per_key = nan (from {path}): must be between 0 and 64",
        ),
        ("[storage]\nbackground_jobs = 0\n", "storage.background_jobs = 0 (from {path}): must"),
        ("[storage]\nbackground_jobs = 65\n", "storage.background_jobs = 65 (from {path}): must"),
        ("[changefeed]\nmax_size = -1\n", "changefeed.max_size = -1 (from {path}): must"),
        (
            "[changefeed]\nprune_interval = 0\n",
            "changefeed.prune_interval = 0 (from {path}): must be greater than 0",
        ),
        (
            "[changefeed]\nretention = -5\n",
            "changefeed.retention = -5 (from {path}): must not be negative",
        ),
        (
            "[tiering.warm_policy.strategy]\ndata_shards = 33\n",
            "tiering.warm_policy.strategy.data_shards = 33 (from {path}): must be between 1 and 32",
        ),
        (
            "[tiering.warm_policy.strategy]\nparity_shards = 0\n",
            "tiering.warm_policy.strategy.parity_shards = 0 (from {path}): must be between 1",
        ),
        (
            '[tiering.warm_policy.strategy]\ntype = "Replication"\ncopies = 8\n',
            "tiering.warm_policy.strategy.copies = 8 (from {path}): must be between 1 and 7",
        ),
    ],
)
def test_out_of_range(write_toml: WriteToml, toml: str, expected: str) -> None:
    message, path = _file_message(write_toml, toml)
    assert expected.format(path=path) in message


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("storage.durability", "sometimes", '"always", "group", "off"'),
        ("storage.compression", "gzip", '"none", "snappy", "lz4", "zstd"'),
        ("storage.bottommost_compression", "LZ4", '"none", "snappy", "lz4", "zstd"'),
        ("log.level", "verbose", '"debug", "info", "warning", "error"'),
        ("log.format", "xml", '"text", "json"'),
        ("tiering.warm_policy.strategy.type", "Raid5", '"ErasureCoding", "Replication"'),
    ],
)
def test_bad_enum(write_toml: WriteToml, key: str, value: str, allowed: str) -> None:
    *tables, name = key.split(".")
    message, path = _file_message(write_toml, f'[{".".join(tables)}]\n{name} = "{value}"\n')
    assert message == f'{key} = "{value}" (from {path}): expected one of {allowed}'


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("storage.hot_cache", '"lots"'),
        ("storage.block_cache", '"12 parsecs"'),
        ("storage.write_buffer", "1.5"),
        ("storage.max_document_size", "true"),
        ("storage.hot_cache", '"-1MiB"'),
    ],
)
def test_bad_size(write_toml: WriteToml, key: str, value: str) -> None:
    section, name = key.split(".")
    message, path = _file_message(write_toml, f"[{section}]\n{name} = {value}\n")
    assert message.startswith(f"{key} = {value} (from {path}): ")
    assert "size" in message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("changefeed.retention", '"a while"'),
        ("changefeed.retention", '"7 fortnights"'),
        ("changefeed.prune_interval", "false"),
        ("changefeed.prune_interval", '"-1m"'),
    ],
)
def test_bad_duration(write_toml: WriteToml, key: str, value: str) -> None:
    section, name = key.split(".")
    message, path = _file_message(write_toml, f"[{section}]\n{name} = {value}\n")
    assert message.startswith(f"{key} = {value} (from {path}): ")
    assert "duration" in message


def test_bad_toml_names_path_and_position(write_toml: WriteToml) -> None:
    message, path = _file_message(write_toml, "[server]\nport = = 1\n")
    assert path in message
    assert "not valid TOML" in message
    assert "line 2" in message


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "luma.toml"
    path.write_bytes(b"[server]\nhost = '\xff'\n")
    message = _message(path=path, env={})
    assert str(path) in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    message = _message(path=path, env={})
    assert message.startswith(f"cannot read config file {path}")


def test_missing_file_from_luma_config(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    message = _message(env={"LUMA_CONFIG": str(path)})
    assert str(path) in message
    assert "LUMA_CONFIG" in message


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    assert str(tmp_path) in _message(path=tmp_path, env={})


def test_env_errors_name_the_variable() -> None:
    message = _message(env={"LUMA_SERVER__PORT": "70000"})
    assert message == "server.port = 70000 (from LUMA_SERVER__PORT): must be between 1 and 65535"
    message = _message(env={"LUMA_STORAGE__DURABILITY": "sometimes"})
    assert message.startswith('storage.durability = "sometimes" (from LUMA_STORAGE__DURABILITY)')


@pytest.mark.parametrize(
    "name",
    ["LUMA_STORAGE__SHARDZ", "LUMA_STORGE__SHARDS", "LUMA_TIERING__WARM_POLICY__COLOUR"],
)
def test_unknown_env_variable(name: str) -> None:
    message = _message(env={name: "1"})
    assert f"(from {name})" in message
    assert "unknown key" in message


@pytest.mark.parametrize("name", ["LUMA_STORAGE__", "LUMA_STORAGE____SHARDS", "LUMA___X__Y"])
def test_malformed_env_variable(name: str) -> None:
    assert name in _message(env={name: "1"})


def test_unknown_override() -> None:
    message = _message(env={}, overrides={"storage.shardz": 2})
    assert "unknown key storage.shardz = 2 (from override)" in message


@pytest.mark.parametrize("key", ["", "storage.", ".port", "storage..shards"])
def test_malformed_override_key(key: str) -> None:
    assert repr(key) in _message(env={}, overrides={key: 1})


def test_override_errors_say_override() -> None:
    message = _message(env={}, overrides={"server.port": "9000"})
    assert message == 'server.port = "9000" (from override): expected an integer'


def test_error_origin_is_the_winning_layer(write_toml: WriteToml) -> None:
    path = write_toml("[server]\nport = 1\n")
    message = _message(path=path, env={"LUMA_SERVER__PORT": "0"})
    assert "(from LUMA_SERVER__PORT)" in message


def test_strategy_keys_of_the_other_type(write_toml: WriteToml) -> None:
    message, _ = _file_message(write_toml, "[tiering.warm_policy.strategy]\ncopies = 2\n")
    assert "unknown key tiering.warm_policy.strategy.copies = 2" in message
    assert 'with type = "ErasureCoding"' in message


def test_config_error_is_a_luma_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={"LUMA_SERVER__PORT": "0"})
    assert info.value.code == "config_invalid"
    assert info.value.to_dict()["error"] == {
        "code": "config_invalid",
        "message": info.value.message,
    }
