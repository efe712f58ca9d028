"""The typed settings tree: one frozen struct per ``luma.toml`` section.

The annotations are the schema. ``msgspec.Meta`` carries each field's range, and
``extra={"unit": ...}`` marks the fields written as sizes or durations, so the loader
(:mod:`lumadb.config._validate`) reads everything it checks from here and a new setting is
one line in this file plus its line in ``luma.toml.example`` and ``docs/configuration.md``
(a test holds the three together).

Sizes are stored as int bytes and durations as float seconds, whatever spelling the user
chose; the loader normalises before it builds these objects.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "AnalyticsSettings",
    "AuthSettings",
    "ChangefeedSettings",
    "EmbeddingSettings",
    "ErasureCoding",
    "LogSettings",
    "NlqSettings",
    "Replication",
    "ServerSettings",
    "Settings",
    "StorageSettings",
    "TieringSettings",
    "WarmPolicy",
]

KiB = 1024
MiB = 1024**2
GiB = 1024**3

SIZE = {"unit": "size"}
DURATION = {"unit": "duration"}

# An erasure-coded object is spread over at most this many nodes.
MAX_TOTAL_SHARDS = 48

# Settings in [auth] whose values are never displayed.
SECRETS = ("jwt_secret", "admin_password")

Compression = Literal["none", "snappy", "lz4", "zstd"]


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Shared struct options: immutable, keyword-only, and strict about unknown keys.

    Subclasses repeat ``frozen=True`` (mypy does not inherit it through
    ``dataclass_transform``) and ``kw_only=True`` (msgspec applies it only to the fields of
    the class that sets it).
    """


class ServerSettings(_Section, frozen=True, kw_only=True):
    """``[server]``: where the HTTP API listens."""

    host: Annotated[str, Meta(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 8080
    workers: Annotated[int, Meta(ge=0, le=256)] = 0
    max_body: Annotated[int, Meta(ge=KiB, le=GiB, extra=SIZE)] = 16 * MiB
    request_timeout: Annotated[float, Meta(gt=0, le=3600, extra=DURATION)] = 30.0
    max_json_depth: Annotated[int, Meta(ge=2, le=1000)] = 64


class AuthSettings(_Section, frozen=True, kw_only=True):
    """``[auth]``: who may use the HTTP API, and how tokens are made."""

    jwt_secret: str = ""
    admin_password: str = ""
    token_lifetime: Annotated[float, Meta(ge=60, le=30 * 86400, extra=DURATION)] = 3600.0
    leeway: Annotated[float, Meta(ge=0, le=300, extra=DURATION)] = 30.0
    login_attempts_per_user: Annotated[int, Meta(ge=1, le=10_000)] = 5
    login_attempts_per_address: Annotated[int, Meta(ge=1, le=100_000)] = 20
    login_window: Annotated[float, Meta(ge=1, le=86400, extra=DURATION)] = 60.0


class StorageSettings(_Section, frozen=True, kw_only=True):
    """``[storage]``: the data directory and the RocksDB engine under every shard."""

    data_dir: Annotated[str, Meta(min_length=1)] = "./luma-data"
    # 0 means one shard per CPU core, decided when a data directory is created.
    shards: Annotated[int, Meta(ge=0, le=1024)] = 0
    durability: Literal["always", "group", "off"] = "group"
    hot_cache: Annotated[int, Meta(ge=0, extra=SIZE)] = 256 * MiB
    block_cache: Annotated[int, Meta(ge=0, extra=SIZE)] = 512 * MiB
    write_buffer: Annotated[int, Meta(ge=MiB, extra=SIZE)] = 64 * MiB
    compression: Compression = "lz4"
    bottommost_compression: Compression = "zstd"
    bloom_bits_per_key: Annotated[float, Meta(ge=0, le=64)] = 10.0
    max_document_size: Annotated[int, Meta(ge=KiB, le=256 * MiB, extra=SIZE)] = 4 * MiB
    background_jobs: Annotated[int, Meta(ge=1, le=64)] = 2
    ttl_purge_interval: Annotated[float, Meta(gt=0, extra=DURATION)] = 60.0


class ChangefeedSettings(_Section, frozen=True, kw_only=True):
    """``[changefeed]``: how long each shard keeps its change records (its write-ahead log)."""

    retention: Annotated[float, Meta(ge=0, extra=DURATION)] = 7 * 86400.0
    max_size: Annotated[int, Meta(ge=0, extra=SIZE)] = 2 * GiB
    prune_interval: Annotated[float, Meta(gt=0, extra=DURATION)] = 60.0


class AnalyticsSettings(_Section, frozen=True, kw_only=True):
    """``[analytics]``: the columnar replica that answers aggregate queries."""

    columnar: bool = True
    memory_limit: Annotated[int, Meta(ge=16 * MiB, extra=SIZE)] = GiB
    threads: Annotated[int, Meta(ge=0, le=256)] = 0


class EmbeddingSettings(_Section, frozen=True, kw_only=True):
    """``[embeddings]``: where models named ``openai:<model>`` are served, and batching."""

    base_url: str = "https://api.openai.com/v1"
    api_key_env: str = "OPENAI_API_KEY"
    timeout: Annotated[float, Meta(gt=0, le=600, extra=DURATION)] = 30.0
    batch_size: Annotated[int, Meta(ge=1, le=4096)] = 64
    cache: Annotated[int, Meta(ge=0, le=10_000_000)] = 10_000


class NlqSettings(_Section, frozen=True, kw_only=True):
    """``[nlq]``: what turns questions into LQL (``POST /api/v1/_nlq``, ``db.ask``)."""

    provider: Literal["builtin", "openai", "llama"] = "builtin"
    base_url: Annotated[str, Meta(min_length=1)] = "https://api.openai.com/v1"
    model: Annotated[str, Meta(min_length=1)] = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"
    model_path: str = ""
    timeout: Annotated[float, Meta(gt=0, le=600, extra=DURATION)] = 30.0
    max_tokens: Annotated[int, Meta(ge=16, le=8192)] = 256
    sample_size: Annotated[int, Meta(ge=1, le=10_000)] = 200
    linking_model: str = "all-MiniLM-L6-v2"


class EventsSettings(_Section, frozen=True, kw_only=True):
    """``[events]``: the trigger dispatcher and what its sinks may reach."""

    enabled: bool = True
    allow_private: tuple[str, ...] = ()
    signing_secret_env: str = "LUMA_WEBHOOK_SECRET"  # noqa: S105 - a variable's name
    max_response_size: Annotated[int, Meta(ge=0, le=1 << 30, extra=SIZE)] = 65536
    max_in_flight: Annotated[int, Meta(ge=1, le=10_000)] = 64
    batch_size: Annotated[int, Meta(ge=1, le=100_000)] = 512
    poll_interval: Annotated[float, Meta(gt=0, le=60, extra=DURATION)] = 0.05
    dead_letter_limit: Annotated[int, Meta(ge=1, le=10_000_000)] = 100_000

    def __post_init__(self) -> None:
        for network in self.allow_private:
            try:
                ipaddress.ip_network(network)
            except ValueError:
                raise ValueError(
                    f"allow_private entry {network!r} is not a network such as '127.0.0.0/8'"
                ) from None


class ErasureCoding(_Section, frozen=True, kw_only=True, tag="ErasureCoding", tag_field="type"):
    """Warm-tier strategy: split each object into data shards plus parity shards."""

    data_shards: Annotated[int, Meta(ge=1, le=32)] = 6
    parity_shards: Annotated[int, Meta(ge=1, le=16)] = 3

    def __post_init__(self) -> None:
        # The field limits already cap the sum at 48; the check keeps the documented rule
        # true if either limit is ever raised.
        total = self.data_shards + self.parity_shards
        if total > MAX_TOTAL_SHARDS:
            raise ValueError(
                f"data_shards + parity_shards = {total}: must be at most {MAX_TOTAL_SHARDS}"
            )

    @property
    def type(self) -> str:
        """The tag written as ``type = "ErasureCoding"`` in luma.toml."""
        return "ErasureCoding"


class Replication(_Section, frozen=True, kw_only=True, tag="Replication", tag_field="type"):
    """Warm-tier strategy: keep whole copies of each object."""

    copies: Annotated[int, Meta(ge=1, le=7)] = 3

    @property
    def type(self) -> str:
        """The tag written as ``type = "Replication"`` in luma.toml."""
        return "Replication"


class WarmPolicy(_Section, frozen=True, kw_only=True):
    """``tiering.warm_policy``: whether and how cold data moves to the warm tier."""

    enabled: bool = False
    strategy: ErasureCoding | Replication = ErasureCoding()


class TieringSettings(_Section, frozen=True, kw_only=True):
    """``[tiering]``: data placement across storage tiers."""

    warm_policy: WarmPolicy = WarmPolicy()


class LogSettings(_Section, frozen=True, kw_only=True):
    """``[log]``: what the server logs and how."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class Settings(_Section, frozen=True, kw_only=True):
    """All of LumaDB's settings; ``Settings()`` is the documented defaults.

    Build one with :func:`lumadb.config.load_settings` to read luma.toml, the environment and
    overrides with validation; constructing sections by hand skips that validation.
    """

    server: ServerSettings = ServerSettings()
    auth: AuthSettings = AuthSettings()
    storage: StorageSettings = StorageSettings()
    changefeed: ChangefeedSettings = ChangefeedSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    embeddings: EmbeddingSettings = EmbeddingSettings()
    nlq: NlqSettings = NlqSettings()
    events: EventsSettings = EventsSettings()
    tiering: TieringSettings = TieringSettings()
    log: LogSettings = LogSettings()

    def to_dict(self) -> dict[str, object]:
        """A plain nested dict for display: sizes as int bytes, durations as float seconds,
        the warm strategy as a table with its ``type``."""
        result: dict[str, object] = msgspec.to_builtins(self)
        auth = result["auth"]
        assert isinstance(auth, dict)
        for secret in SECRETS:
            if auth[secret]:
                auth[secret] = "<hidden>"  # secrets are never shown or logged
        return result
