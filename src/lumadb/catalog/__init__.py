"""The catalog: collections (and later schemas, indexes, triggers, users) as immutable values."""

from __future__ import annotations

from lumadb.catalog.collections import (
    CHANGEFEED_MODES,
    Catalog,
    CollectionSpec,
    IndexSpec,
    validate_name,
)

__all__ = ["CHANGEFEED_MODES", "Catalog", "CollectionSpec", "IndexSpec", "validate_name"]
