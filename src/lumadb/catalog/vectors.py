"""What a vector index is: dimensions, metric, index type and its parameters.

Declared as LQL's ``CREATE VECTOR INDEX ... USING hnsw WITH (m = 32, metric = 'cosine')``,
as REST's ``"vectors": {"embedding": {"dim": 384, "metric": "cosine", "index": "hnsw"}}`` or
through the embedded API; every spelling comes here, so every front end refuses the same
things with the same words.

``cosine`` ranks by the cosine distance (1 - cosine; LQL's ``<=>``), ``l2`` by the Euclidean
distance (``<->``), ``ip`` by the negative inner product (``<#>``). ``hnsw`` is FAISS's HNSW
graph (``m`` links per node, ``ef_construction`` candidates while building, ``ef_search``
while searching: higher is slower and finds more of the true neighbours); ``ivf_pq`` clusters
the vectors into ``nlist`` lists and compresses each into ``pq_m`` bytes (``nprobe`` lists are
searched), for collections too large for memory as floats; ``flat`` compares the query with
every vector (exact, and fast enough for small collections).

``embed_from`` (fields) and ``model`` make the field computed: the server embeds the
sources' text with the model on every write (``model`` alone only names the model that
LQL's ``embed('text')`` uses for queries of this index).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lumadb.ai.embedders import MINILM, model_problem
from lumadb.errors import InvalidArgument

__all__ = ["INDEX_TYPES", "METRICS", "MAX_DIMENSIONS", "VectorOptions"]

METRICS = ("cosine", "l2", "ip")
INDEX_TYPES = ("hnsw", "ivf_pq", "flat")
MAX_DIMENSIONS = 16_384
OPERATORS = {"cosine": "<=>", "l2": "<->", "ip": "<#>"}

# name -> (index types it applies to, lowest, highest, default)
_PARAMETERS: dict[str, tuple[tuple[str, ...], int, int, int]] = {
    "m": (("hnsw",), 4, 128, 32),
    "ef_construction": (("hnsw",), 8, 4096, 200),
    "ef_search": (("hnsw",), 1, 32_768, 128),
    "nlist": (("ivf_pq",), 1, 65_536, 1024),
    "pq_m": (("ivf_pq",), 1, 1024, 16),
    "nprobe": (("ivf_pq",), 1, 65_536, 32),
}
_ALIASES = {
    "dimensions": "dim",
    "dims": "dim",
    "dimension": "dim",
    "type": "index",
    "using": "index",
}


@dataclass(frozen=True, slots=True)
class VectorOptions:
    """A vector index's settings (``dim`` 0: not known yet, taken from the stored vectors)."""

    dim: int
    metric: str = "cosine"
    index: str = "hnsw"
    params: tuple[tuple[str, int], ...] = ()  # only those that differ from the defaults
    embed_from: tuple[str, ...] = ()  # dotted paths of the fields embedded into this one
    model: str = ""  # the embedding model of the field's vectors, when LumaDB knows it

    def param(self, name: str) -> int:
        """The value of the parameter ``name`` (its default unless given)."""
        return dict(self.params).get(name, _PARAMETERS[name][3])

    @property
    def operator(self) -> str:
        """The LQL operator whose order this index gives."""
        return OPERATORS[self.metric]

    def to_record(self) -> dict[str, Any]:
        """The stored form (flat and hashable: the sources as one comma-separated text)."""
        record: dict[str, Any] = {"dim": self.dim, "metric": self.metric, "index": self.index}
        record.update(self.params)
        if self.embed_from:
            record["embed_from"] = ",".join(self.embed_from)
        if self.model:
            record["model"] = self.model
        return record

    def describe(self) -> dict[str, Any]:
        """The public form: :meth:`to_record` with the sources as a list."""
        record = self.to_record()
        if self.embed_from:
            record["embed_from"] = list(self.embed_from)
        return record

    @classmethod
    def parse(cls, given: object, what: str = "a vector index") -> VectorOptions:
        """Options from a mapping such as :meth:`to_record` gives; errors name the key."""
        if not isinstance(given, dict):
            raise InvalidArgument(f"{what} is described by an object, not {type(given).__name__}")
        values: dict[str, Any] = {}
        for key, value in given.items():
            name = _ALIASES.get(str(key).lower(), str(key).lower())
            if name in values:
                raise InvalidArgument(f"{what}: {key!r} is given twice")
            values[name] = value
        dim = values.pop("dim", 0)
        if type(dim) is not int or not 0 <= dim <= MAX_DIMENSIONS:
            raise InvalidArgument(
                f"{what}: dim must be a whole number from 1 to {MAX_DIMENSIONS}, not {dim!r}"
            )
        metric = str(values.pop("metric", "cosine")).lower()
        if metric not in METRICS:
            raise InvalidArgument(
                f"{what}: metric must be one of {', '.join(METRICS)}, not {metric!r}"
            )
        index = str(values.pop("index", "hnsw")).lower()
        if index not in INDEX_TYPES:
            raise InvalidArgument(
                f"{what}: index must be one of {', '.join(INDEX_TYPES)}, not {index!r}"
            )
        embed_from, model = _embedding(values, what)
        params = []
        for name, value in sorted(values.items()):
            spec = _PARAMETERS.get(name)
            if spec is None or index not in spec[0]:
                known = sorted(n for n, s in _PARAMETERS.items() if index in s[0])
                taken = ["dim", "metric", *known, "embed_from", "model"]
                raise InvalidArgument(
                    f"{what}: {name!r} is not a parameter of {index} (it takes {', '.join(taken)})"
                )
            _, low, high, default = spec
            if type(value) is not int or not low <= value <= high:
                raise InvalidArgument(
                    f"{what}: {name} must be a whole number from {low} to {high}, not {value!r}"
                )
            if value != default:
                params.append((name, value))
        if index == "ivf_pq" and dim and dim % dict(params).get("pq_m", _PARAMETERS["pq_m"][3]):
            raise InvalidArgument(f"{what}: pq_m must divide dim ({dim})")
        return cls(dim, metric, index, tuple(params), embed_from, model)

    def with_dim(self, dim: int) -> VectorOptions:
        """The same options for vectors of ``dim`` numbers."""
        return VectorOptions.parse({**self.to_record(), "dim": dim})


def _embedding(values: dict[str, Any], what: str) -> tuple[tuple[str, ...], str]:
    """``embed_from`` and ``model``, taken out of ``values`` (MiniLM when only sources)."""
    embed_from = _sources(values.pop("embed_from", ()), what)
    model = values.pop("model", "")
    if embed_from and not model:
        model = MINILM
    if model:
        problem = model_problem(model)
        if problem is not None:
            raise InvalidArgument(f"{what}: model must be {problem}, not {model!r}")
    return embed_from, str(model)


def _sources(given: object, what: str) -> tuple[str, ...]:
    """``embed_from`` as a list of field paths, or one comma-separated text (LQL's WITH)."""
    items = given.split(",") if isinstance(given, str) else given
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise InvalidArgument(f"{what}: embed_from must be a list of field names")
    paths = tuple(i.strip() for i in items if i.strip())
    if len(paths) != len(set(paths)):
        raise InvalidArgument(f"{what}: embed_from names a field twice")
    for path in paths:
        if not all(path.split(".")):
            raise InvalidArgument(f"{what}: embed_from has an empty field name in {path!r}")
    if isinstance(given, list | tuple) and given and not paths:
        raise InvalidArgument(f"{what}: embed_from must name at least one field")
    return paths
