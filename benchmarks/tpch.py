"""Suite ``tpch``: TPC-H Q1, Q3, Q5 and Q6 in LQL against DuckDB on the same Parquet.

The data comes from ``tpchgen-cli`` (PyPI; ``make bench-tools`` installs it), generated once
into ``benchmarks/data/tpch-sf{SF}/`` (SF 0.01 for ``--quick``, 0.1 otherwise). Each table is
loaded as a collection (Parquet rows as documents, as ``luma import`` reads them: dates become
ISO 8601 texts, decimals numbers), and the queries run through ``db.execute``, where the
columnar replica answers them (the joins of Q3 and Q5 included); the replica is built by one
run of each query before timing starts, as it is in a running database.

Peers, in the same run: DuckDB over views of the same Parquet files (``q*_vs_duckdb``, the
ratio with a target), and DuckDB over the same data loaded into its own tables
(``q*_vs_duckdb_tables``, reported): the first is what the suite is asked for, the second how
much of DuckDB's speed the replica and LQL's planning leave. The texts of the queries are the
same for LumaDB and DuckDB: TPC-H's, with explicit JOINs (LQL's joins name their collections)
and date arithmetic written out as the dates it gives. Every answer is checked against
DuckDB's (numbers to 1e-6 relative: DuckDB's decimals are exact, the documents hold doubles).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

import lumadb
from benchmarks.harness import Progress, Report, interleave, settle
from lumadb.cli._tables import read_rows

__all__ = ["QUERIES", "run"]

TABLES = ("lineitem", "orders", "customer", "supplier", "nation", "region")
DATA = Path(__file__).parent / "data"
BATCH = 5000

QUERIES = {
    "q1": """
SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty,
       sum(l_extendedprice) AS sum_base_price,
       sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
       sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
       avg(l_quantity) AS avg_qty, avg(l_extendedprice) AS avg_price,
       avg(l_discount) AS avg_disc, count(*) AS count_order
FROM lineitem
WHERE l_shipdate <= '1998-09-02'
GROUP BY l_returnflag, l_linestatus
ORDER BY l_returnflag, l_linestatus""",
    "q3": """
SELECT l.l_orderkey, sum(l.l_extendedprice * (1 - l.l_discount)) AS revenue,
       o.o_orderdate, o.o_shippriority
FROM customer c
JOIN orders o ON c.c_custkey = o.o_custkey
JOIN lineitem l ON l.l_orderkey = o.o_orderkey
WHERE c.c_mktsegment = 'BUILDING' AND o.o_orderdate < '1995-03-15'
  AND l.l_shipdate > '1995-03-15'
GROUP BY l.l_orderkey, o.o_orderdate, o.o_shippriority
ORDER BY revenue DESC, o.o_orderdate
LIMIT 10""",
    "q5": """
SELECT n.n_name, sum(l.l_extendedprice * (1 - l.l_discount)) AS revenue
FROM customer c
JOIN orders o ON c.c_custkey = o.o_custkey
JOIN lineitem l ON l.l_orderkey = o.o_orderkey
JOIN supplier s ON l.l_suppkey = s.s_suppkey AND c.c_nationkey = s.s_nationkey
JOIN nation n ON s.s_nationkey = n.n_nationkey
JOIN region r ON n.n_regionkey = r.r_regionkey
WHERE r.r_name = 'ASIA' AND o.o_orderdate >= '1994-01-01' AND o.o_orderdate < '1995-01-01'
GROUP BY n.n_name
ORDER BY revenue DESC""",
    "q6": """
SELECT sum(l_extendedprice * l_discount) AS revenue
FROM lineitem
WHERE l_shipdate >= '1994-01-01' AND l_shipdate < '1995-01-01'
  AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24""",
}
TARGETS = {f"{q}_vs_duckdb": 0.5 for q in QUERIES}


def generate(scale: float) -> Path:
    """The Parquet files of scale factor ``scale`` (generated on first use)."""
    folder = DATA / f"tpch-sf{scale:g}"
    if all((folder / f"{t}.parquet").exists() for t in TABLES):
        return folder
    beside = Path(sys.executable).parent / "tpchgen-cli"  # the venv's, when not on PATH
    tool = str(beside) if beside.exists() else shutil.which("tpchgen-cli")
    if tool is None:
        raise RuntimeError("tpchgen-cli is not installed: run `make bench-tools`")
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [tool, "parquet", "-s", f"{scale:g}", "-o", str(folder), "--tables", ",".join(TABLES)],
        check=True,
    )
    return folder


def _load(db: lumadb.Database, folder: Path, say: Progress) -> int:
    loaded = 0
    for table in TABLES:
        collection = db.create_collection(table)
        batch: list[tuple[str, dict[str, Any]]] = []
        with (folder / f"{table}.parquet").open("rb") as file:
            for row, doc in read_rows(file, "parquet"):
                batch.append((f"{row:09d}", doc))
                if len(batch) == BATCH:
                    collection.put_many(batch)
                    batch = []
        collection.put_many(batch)
        loaded += collection.count()
        say(f"{table}: {collection.count():,} documents")
    return loaded


class _Query:
    """One query, run once per chunk."""

    def __init__(self, run_once: Any, chunks: int) -> None:
        self._run = run_once
        self.ops = chunks
        self.chunks = chunks
        self.last: list[list[Any]] = []

    def start(self) -> None:
        """Nothing to prepare."""

    def chunk(self, index: int) -> None:
        self.last = [list(r) for r in self._run()]

    def finish(self) -> None:
        """Nothing to release."""


def _number(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return float(value)


def _check(name: str, ours: list[list[Any]], theirs: list[list[Any]]) -> None:
    if not ours or len(ours) != len(theirs):
        raise RuntimeError(f"{name}: {len(ours)} rows, DuckDB {len(theirs)}")
    for got, want in zip(ours, theirs, strict=True):
        for one, other in zip(got, want, strict=True):
            a, b = _number(one), _number(other)
            if isinstance(a, float) and isinstance(b, float):
                if not math.isclose(a, b, rel_tol=1e-6):
                    raise RuntimeError(f"{name}: {got} where DuckDB has {want}")
            elif a != b:
                raise RuntimeError(f"{name}: {got} where DuckDB has {want}")


def run(quick: bool) -> Report:
    """Run the suite."""
    scale, rounds, chunks = (0.01, 5, 3) if quick else (0.1, 7, 3)
    say = Progress("tpch")
    report = Report("tpch", targets=TARGETS)
    folder = generate(scale)
    parquet = duckdb.connect(":memory:")
    tables = duckdb.connect(":memory:")
    for table in TABLES:
        source = f"read_parquet('{folder / table}.parquet')"
        parquet.execute(f"CREATE VIEW {table} AS SELECT * FROM {source}")  # noqa: S608
        tables.execute(f"CREATE TABLE {table} AS SELECT * FROM {source}")  # noqa: S608
    with lumadb.open(":memory:") as db:
        say(f"loading TPC-H at scale factor {scale:g}")
        report.figures["documents"] = _load(db, folder, say)
        for name, sql in QUERIES.items():
            before = db.stats()["columnar"]["answered"]
            _check(name, db.execute(sql).rows, parquet.execute(sql).fetchall())  # builds
            if db.stats()["columnar"]["answered"] != before + 1:
                raise RuntimeError(f"{name} was not answered by the columnar replica")
        settle()
        for name, sql in QUERIES.items():
            say(f"{name}: {rounds} rounds")
            ours = _Query(lambda sql=sql: db.execute(sql).rows, chunks)
            peer = _Query(lambda sql=sql: parquet.execute(sql).fetchall(), chunks)
            native = _Query(lambda sql=sql: tables.execute(sql).fetchall(), chunks)
            rates = interleave(rounds, {"lql": ours, "duckdb": peer, "duckdb_tables": native})
            _check(name, ours.last, peer.last)
            report.add_ratio(f"{name}_vs_duckdb", rates, "lql", "duckdb")
            report.add_ratio(f"{name}_vs_duckdb_tables", rates, "lql", "duckdb_tables")
            report.add_rates(name, rates, "queries_s")
    parquet.close()
    tables.close()
    report.figures["scale_factor"] = scale
    report.packages("duckdb", "tpchgen-cli", "pyarrow")
    return report
