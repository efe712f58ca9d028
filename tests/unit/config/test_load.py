"""load_settings: defaults, the seed example, layering and the resulting objects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from lumadb.config import (
    ErasureCoding,
    Replication,
    ServerSettings,
    Settings,
    WarmPolicy,
    load_settings,
)

WriteToml = Callable[[str], Path]

SEED = """
[tiering]
warm_policy = { enabled = true, strategy = { type = "ErasureCoding", data_shards = 6, parity_shards = 3 } }
"""  # noqa: E501 - the seed example, exactly as users write it


def test_defaults() -> None:
    settings = Settings()
    assert settings.server.host == "127.0.0.1"
    assert settings.server.port == 8080
    assert settings.storage.data_dir == "./luma-data"
    assert settings.storage.shards == 0
    assert settings.storage.durability == "group"
    assert settings.storage.hot_cache == 268435456
    assert settings.storage.block_cache == 512 * 1024**2
    assert settings.storage.write_buffer == 64 * 1024**2
    assert settings.storage.compression == "lz4"
    assert settings.storage.bottommost_compression == "zstd"
    assert settings.storage.bloom_bits_per_key == 10
    assert settings.storage.max_document_size == 4 * 1024**2
    assert settings.storage.background_jobs == 2
    assert settings.changefeed.retention == 604800.0
    assert settings.changefeed.max_size == 2 * 1024**3
    assert settings.changefeed.prune_interval == 60.0
    assert settings.tiering.warm_policy == WarmPolicy(enabled=False, strategy=ErasureCoding())
    assert settings.tiering.warm_policy.strategy.type == "ErasureCoding"
    assert settings.log.level == "info"
    assert settings.log.format == "text"


def test_no_file_no_env_is_defaults() -> None:
    assert load_settings(env={}) == Settings()


def test_empty_file_is_defaults(write_toml: WriteToml) -> None:
    assert load_settings(write_toml(""), env={}) == Settings()


def test_seed_example_loads(write_toml: WriteToml) -> None:
    settings = load_settings(write_toml(SEED), env={})
    policy = settings.tiering.warm_policy
    assert policy.enabled is True
    assert policy.strategy == ErasureCoding(data_shards=6, parity_shards=3)
    assert policy.strategy.type == "ErasureCoding"
    assert settings.storage == Settings().storage


def test_replication_strategy(write_toml: WriteToml) -> None:
    path = write_toml('[tiering.warm_policy.strategy]\ntype = "Replication"\ncopies = 2\n')
    strategy = load_settings(path, env={}).tiering.warm_policy.strategy
    assert strategy == Replication(copies=2)
    assert strategy.type == "Replication"


def test_sizes_and_durations_are_normalised(write_toml: WriteToml) -> None:
    path = write_toml(
        '[storage]\nhot_cache = "1.5GiB"\nblock_cache = 1000\nwrite_buffer = "2 MB"\n'
        '[changefeed]\nretention = "30 days"\nprune_interval = "250ms"\n'
    )
    settings = load_settings(path, env={})
    assert settings.storage.hot_cache == 1610612736
    assert settings.storage.block_cache == 1000
    assert settings.storage.write_buffer == 2_000_000
    assert settings.changefeed.retention == 2592000.0
    assert type(settings.changefeed.retention) is float
    assert settings.changefeed.prune_interval == 0.25


def test_config_file_from_luma_config(write_toml: WriteToml) -> None:
    path = write_toml("[server]\nport = 9001\n")
    assert load_settings(env={"LUMA_CONFIG": str(path)}).server.port == 9001


def test_explicit_path_beats_luma_config(write_toml: WriteToml, tmp_path: Path) -> None:
    path = write_toml("[server]\nport = 9001\n")
    missing = tmp_path / "elsewhere.toml"
    assert load_settings(path, env={"LUMA_CONFIG": str(missing)}).server.port == 9001


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMA_SERVER__PORT", "9123")
    monkeypatch.delenv("LUMA_CONFIG", raising=False)
    assert load_settings().server.port == 9123


@pytest.mark.parametrize(
    ("name", "value", "dotted", "expected"),
    [
        ("LUMA_STORAGE__DURABILITY", "always", "storage.durability", "always"),
        ("LUMA_STORAGE__DURABILITY", '"off"', "storage.durability", "off"),
        ("luma_storage__durability", "off", "storage.durability", "off"),
        ("LUMA_SERVER__PORT", "4000", "server.port", 4000),
        ("LUMA_STORAGE__SHARDS", "4", "storage.shards", 4),
        ("LUMA_STORAGE__HOT_CACHE", "1GiB", "storage.hot_cache", 1024**3),
        ("LUMA_STORAGE__HOT_CACHE", "0", "storage.hot_cache", 0),
        ("LUMA_STORAGE__BLOOM_BITS_PER_KEY", "9.5", "storage.bloom_bits_per_key", 9.5),
        ("LUMA_CHANGEFEED__RETENTION", "12h", "changefeed.retention", 43200.0),
        ("LUMA_STORAGE__DATA_DIR", "/srv/luma data", "storage.data_dir", "/srv/luma data"),
        # TOML would read these as an int and a bool; string settings keep the text.
        ("LUMA_STORAGE__DATA_DIR", "2024", "storage.data_dir", "2024"),
        ("LUMA_SERVER__HOST", "true", "server.host", "true"),
        ("LUMA_SERVER__HOST", "::1", "server.host", "::1"),
        ("LUMA_TIERING__WARM_POLICY__ENABLED", "true", "tiering.warm_policy.enabled", True),
        ("LUMA_LOG__FORMAT", "json", "log.format", "json"),
    ],
)
def test_env_sets_one_key(name: str, value: str, dotted: str, expected: object) -> None:
    settings = load_settings(env={name: value})
    assert _get(settings, dotted) == expected


def test_env_toml_table_value() -> None:
    env = {"LUMA_TIERING__WARM_POLICY__STRATEGY": '{ type = "Replication", copies = 2 }'}
    assert load_settings(env=env).tiering.warm_policy.strategy == Replication(copies=2)


def test_env_deeper_variable_wins_over_table() -> None:
    env = {
        "LUMA_TIERING__WARM_POLICY": "{ enabled = false }",
        "LUMA_TIERING__WARM_POLICY__ENABLED": "true",
    }
    assert load_settings(env=env).tiering.warm_policy.enabled is True


def test_env_merges_nested_keys_with_file(write_toml: WriteToml) -> None:
    path = write_toml(
        "[tiering]\nwarm_policy = { enabled = false, strategy = "
        '{ type = "ErasureCoding", data_shards = 10, parity_shards = 4 } }\n'
    )
    env = {"LUMA_TIERING__WARM_POLICY__ENABLED": "true"}
    policy = load_settings(path, env=env).tiering.warm_policy
    assert policy.enabled is True
    assert policy.strategy == ErasureCoding(data_shards=10, parity_shards=4)


def test_changing_strategy_type_replaces_the_table(write_toml: WriteToml) -> None:
    path = write_toml(SEED)
    env = {"LUMA_TIERING__WARM_POLICY__STRATEGY__TYPE": "Replication"}
    policy = load_settings(path, env=env).tiering.warm_policy
    assert policy.enabled is True
    assert policy.strategy == Replication()


def test_non_setting_luma_variables_are_ignored() -> None:
    env = {"LUMA_CONFIG": "", "LUMAX__Y": "1", "LUMA_OTHER": "2", "PATH": "/bin"}
    assert load_settings(env=env) == Settings()


def test_secret_variables_set_auth_settings_as_text() -> None:
    env = {"LUMA_ADMIN_PASSWORD": "12345678", "luma_jwt_secret": "true"}
    auth = load_settings(env=env).auth
    assert (auth.admin_password, auth.jwt_secret) == ("12345678", "true")


def test_to_dict_hides_secrets() -> None:
    env = {"LUMA_ADMIN_PASSWORD": "hunter22hunter", "LUMA_AUTH__JWT_SECRET": "s" * 40}
    auth = load_settings(env=env).to_dict()["auth"]
    assert isinstance(auth, dict)
    hidden = "<hidden>"
    assert auth["admin_password"] == hidden
    assert auth["jwt_secret"] == hidden
    assert "hunter22" not in repr(load_settings(env={}).to_dict())


def test_precedence_overrides_over_env_over_file(write_toml: WriteToml) -> None:
    path = write_toml('[server]\nport = 1111\nhost = "file-host"\n[log]\nlevel = "debug"\n')
    env = {"LUMA_SERVER__PORT": "2222", "LUMA_SERVER__HOST": "env-host"}
    settings = load_settings(path, env=env, overrides={"server.port": 3333})
    assert settings.server.port == 3333
    assert settings.server.host == "env-host"
    assert settings.log.level == "debug"
    assert settings.storage == Settings().storage


def test_none_overrides_are_skipped(write_toml: WriteToml) -> None:
    path = write_toml("[server]\nport = 1111\n")
    overrides = {"server.port": None, "storage.data_dir": None}
    settings = load_settings(path, env={}, overrides=overrides)
    assert settings.server.port == 1111
    assert settings.storage.data_dir == "./luma-data"


def test_overrides_accept_paths_tables_and_structs(tmp_path: Path) -> None:
    overrides: dict[str, object] = {
        "storage.data_dir": tmp_path / "data",
        "tiering.warm_policy": {"enabled": True},
        "tiering.warm_policy.strategy": Replication(copies=5),
        "storage.max_document_size": "1MiB",
    }
    settings = load_settings(env={}, overrides=overrides)
    assert settings.storage.data_dir == str(tmp_path / "data")
    assert settings.tiering.warm_policy == WarmPolicy(enabled=True, strategy=Replication(copies=5))
    assert settings.storage.max_document_size == 1024**2


def test_settings_are_frozen() -> None:
    settings = load_settings(env={})
    with pytest.raises(AttributeError):
        settings.server = ServerSettings()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        settings.server.port = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        settings.tiering.warm_policy.strategy.data_shards = 1  # type: ignore[misc,union-attr]


def test_sections_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        ServerSettings("localhost")  # type: ignore[call-arg]


def test_to_dict() -> None:
    data = load_settings(env={}, overrides={"storage.hot_cache": "1KiB"}).to_dict()
    assert data["server"] == {
        "host": "127.0.0.1",
        "port": 8080,
        "workers": 0,
        "max_body": 16 * 1024 * 1024,
        "request_timeout": 30.0,
        "max_json_depth": 64,
    }
    storage = data["storage"]
    assert isinstance(storage, dict)
    assert storage["hot_cache"] == 1024
    changefeed = data["changefeed"]
    assert isinstance(changefeed, dict)
    assert changefeed["retention"] == 604800.0
    assert data["tiering"] == {
        "warm_policy": {
            "enabled": False,
            "strategy": {"type": "ErasureCoding", "data_shards": 6, "parity_shards": 3},
        }
    }
    assert msgspec.convert(data, Settings) == load_settings(
        env={}, overrides={"storage.hot_cache": 1024}
    )


def test_erasure_coding_total_is_checked_on_construction() -> None:
    with pytest.raises(ValueError, match="at most 48"):
        ErasureCoding(data_shards=40, parity_shards=16)


def _get(settings: Settings, dotted: str) -> object:
    value: object = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value
