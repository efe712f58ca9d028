"""Suite ``http``: LumaDB's HTTP API over loopback against peers on the same machine.

``get_vs_hello`` / ``post_vs_hello`` / ``post_group_vs_hello``
    ``GET /api/v1/docs/{id}`` of ~1 KB documents (uniformly random existing ids) and
    ``POST /api/v1/posts`` of ~1 KB documents, sent by wrk (2 threads, 64 connections,
    bearer token on every request) to a real ``luma serve`` subprocess and to a raw-ASGI
    "hello JSON" app (:mod:`benchmarks.http_peers`) served by granian exactly as ``luma serve``
    runs LumaDB: one worker per core, uvloop, ASGI. The GET/POST comparison runs LumaDB with
    ``durability = "off"``, so an fsync does not set the rate; ``post_group`` is the same POSTs
    to a second node with the default ``group`` commit.
``ycsb_c_vs_redis``
    YCSB workload C (100 % reads, zipfian θ = 0.99, records of 10 fields x 100 B): LumaDB
    documents read with ``GET /api/v1/usertable/user<k>`` through wrk, against Debian's
    ``redis-server`` (no persistence) holding each record as a hash, read with ``HGETALL
    user<k>`` through resp-benchmark — a multi-threaded Rust load generator, like wrk native,
    driven by a Lua script, with the same connections and threads. Both draw keys with the same
    Lua code (``benchmarks/wrk/zipf.lua``, YCSB's zipfian generator, scrambled). A check
    contender, redis-benchmark reading one hot record in the same rounds, shows whether
    resp-benchmark is a weaker driver than Redis's own tool.

Every contender runs for the same fixed time per round; the rounds alternate contender by
contender (:func:`benchmarks.harness.alternate`) after a shorter warm-up of each. Each trial
also records its load generator's CPU use and the server workers', so the report shows which
side was saturated. Every server listens on 127.0.0.1 on a free port, in its own process
group, and is stopped and reaped at the end even when the suite fails.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import random
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import orjson

from benchmarks.harness import (
    Progress,
    Rates,
    Report,
    Trial,
    alternate,
    ratio_summary,
    scratch_dir,
    settle,
)
from benchmarks.http_peers import (
    HELLO_WORKERS,
    ServerProcess,
    cpu_seconds,
    free_port,
    http_ok,
    redis_ping,
    spawned_workers,
    start_hello,
    start_redis,
)
from benchmarks.workload import Doc, DocumentMaker, unique_ids

__all__ = ["FULL", "QUICK", "Size", "run"]

SEED = 4_000_037
CONNECTIONS = 64
THREADS = 2
FIELDS, FIELD_CHARS = 10, 92  # ~1 KB of JSON per document, as in the storage suite
YCSB_FIELDS, YCSB_FIELD_CHARS = 10, 100  # YCSB's record: 10 fields of 100 bytes
THETA = 0.99  # YCSB's zipfian constant
SCRAMBLE = 1_000_003  # prime: rank r is record (r * SCRAMBLE) % n
BATCH = 1000  # documents per _bulk request while loading
WRK_TIMEOUT = "10s"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LUA = HERE / "wrk"

TARGETS = {"get_vs_hello": 0.6, "ycsb_c_vs_redis": 0.3}


@dataclass(frozen=True)
class Size:
    """How much one run does."""

    documents: int
    records: int
    seconds: int  # one measured trial (wrk takes whole seconds)
    warmup_seconds: int
    rounds: int


QUICK = Size(documents=10_000, records=10_000, seconds=1, warmup_seconds=1, rounds=6)
FULL = Size(documents=100_000, records=100_000, seconds=5, warmup_seconds=3, rounds=7)


@dataclass(frozen=True)
class Workload:
    """The documents, the YCSB records and the POST body, generated before any clock starts."""

    docs: dict[str, Doc]  # id -> document (the GET data set)
    records: dict[str, Doc]  # user<k> -> record (YCSB)
    post_body: Doc  # the document every POST sends (with a fresh id)
    zetan: float  # sum of 1 / i^THETA for i = 1 .. records


def make_workload(size: Size, seed: int = SEED) -> Workload:
    """The seeded data for ``size``."""
    rng = random.Random(seed)
    maker = DocumentMaker(rng)
    ids = unique_ids(rng, size.documents)
    docs = dict(zip(ids, maker.docs(size.documents, FIELDS, FIELD_CHARS), strict=True))
    records = {
        f"user{k}": {
            f"field{i}": value
            for i, value in enumerate(maker.doc(YCSB_FIELDS, YCSB_FIELD_CHARS).values())
        }
        for k in range(size.records)
    }
    if math.gcd(SCRAMBLE, size.records) != 1:
        raise ValueError(f"{size.records} records: the scramble needs a count prime to it")
    zetan = math.fsum(1.0 / i**THETA for i in range(1, size.records + 1))
    return Workload(docs, records, maker.doc(FIELDS, FIELD_CHARS), zetan)


# --- servers ------------------------------------------------------------------------------


@dataclass
class Node:
    """A server under test: its process, port, the pid whose CPU is measured, a token."""

    server: ServerProcess
    port: int
    workers: tuple[int, ...] = ()
    token: str = ""

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.port}"


def _luma_argv() -> list[str]:
    luma = Path(sys.executable).with_name("luma")
    if luma.exists():
        return [str(luma)]
    return [sys.executable, "-m", "lumadb"]


def start_luma(root: Path, name: str, durability: str, password: str, secret: str) -> Node:
    """``luma serve`` on a fresh data directory under ``root``, on a free loopback port.

    No ``LUMA_*`` variable of the caller's environment reaches it, and it runs in ``root``
    (no ``luma.toml`` is picked up): only the settings given here differ from the defaults.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUMA_")}
    env |= {
        "LUMA_ADMIN_PASSWORD": password,
        "LUMA_JWT_SECRET": secret,
        "LUMA_STORAGE__DURABILITY": durability,
    }
    argv = [
        *_luma_argv(),
        "serve",
        "--data-dir",
        str(root / f"{name}-data"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = ServerProcess(name, argv, root / f"{name}.log", env=env, cwd=root)
    return Node(server, port)


def _workers_of(node: Node, count: int) -> tuple[int, ...]:
    """The pids of the node's ``count`` granian workers (the processes that run the app)."""
    deadline = time.perf_counter() + 30
    while True:
        workers = spawned_workers(node.server.pid)
        if len(workers) == count:
            return tuple(workers)
        if time.perf_counter() >= deadline:
            raise RuntimeError(f"{node.server.name}: expected {count} workers, found {workers}")
        time.sleep(0.1)


def _cpu(pids: tuple[int, ...]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def login(client: httpx.Client, node: Node, password: str) -> str:
    """A bearer token for ``admin``."""
    answer = client.post(
        f"{node.url}/api/v1/_auth/token", json={"username": "admin", "password": password}
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def _headers(node: Node) -> dict[str, str]:
    return {"authorization": f"Bearer {node.token}"}


def create_collection(client: httpx.Client, node: Node, name: str) -> None:
    """Create collection ``name`` on ``node``."""
    answer = client.post(
        f"{node.url}/api/v1/_collections", json={"name": name}, headers=_headers(node)
    )
    answer.raise_for_status()


def bulk_load(client: httpx.Client, node: Node, collection: str, docs: dict[str, Doc]) -> None:
    """Write ``docs`` (id -> document) through ``_bulk``, BATCH documents per request."""
    items = list(docs.items())
    headers = _headers(node) | {"content-type": "application/x-ndjson"}
    for at in range(0, len(items), BATCH):
        body = b"\n".join(orjson.dumps({"id": i, **d}) for i, d in items[at : at + BATCH])
        answer = client.post(f"{node.url}/api/v1/{collection}/_bulk", content=body, headers=headers)
        answer.raise_for_status()
        if answer.json()["count"] != len(items[at : at + BATCH]):
            raise RuntimeError(f"{collection}: a _bulk request wrote too few documents")


def load_redis(port: int, records: dict[str, Doc]) -> None:
    """HSET every record as a hash (pipelined), then check the count."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        items = list(records.items())
        for at in range(0, len(items), BATCH):
            pipe = client.pipeline(transaction=False)
            for key, record in items[at : at + BATCH]:
                pipe.hset(key, mapping={str(f): str(v) for f, v in record.items()})
            pipe.execute()
        if client.dbsize() != len(records):
            raise RuntimeError(f"redis holds {client.dbsize()} keys, not {len(records)}")
    finally:
        client.close()


# --- checks -------------------------------------------------------------------------------


def check_servers(
    client: httpx.Client, luma: Node, group: Node, hello: Node, redis_port: int, work: Workload
) -> dict[str, float]:
    """Fail loudly unless every server returns what was written; returns body sizes."""
    import redis

    sample_ids = list(work.docs)[:: max(1, len(work.docs) // 5)]
    for doc_id in sample_ids:
        got = client.get(f"{luma.url}/api/v1/docs/{doc_id}", headers=_headers(luma))
        if got.status_code != 200 or got.json() != {"id": doc_id, **work.docs[doc_id]}:
            raise RuntimeError(f"LumaDB returned a wrong document for {doc_id}")
    keys = list(work.records)[:: max(1, len(work.records) // 5)]
    store = redis.Redis(host="127.0.0.1", port=redis_port, decode_responses=True)
    try:
        for key in keys:
            got = client.get(f"{luma.url}/api/v1/usertable/{key}", headers=_headers(luma))
            if got.status_code != 200 or got.json() != {"id": key, **work.records[key]}:
                raise RuntimeError(f"LumaDB returned a wrong record for {key}")
            if store.hgetall(key) != work.records[key]:
                raise RuntimeError(f"redis returned a wrong record for {key}")
    finally:
        store.close()
    hello_doc = client.get(f"{hello.url}/api/v1/docs/{sample_ids[0]}")
    if hello_doc.status_code != 200 or hello_doc.json()["id"] != sample_ids[0]:
        raise RuntimeError("the hello app did not answer GET as expected")
    for node in (luma, group, hello):
        posted = client.post(
            f"{node.url}/api/v1/posts",
            json={"id": "check-post", **work.post_body},
            headers=_headers(node),
        )
        if posted.status_code != 201 or posted.json() != {"id": "check-post"}:
            raise RuntimeError(f"{node.server.name} did not answer POST as expected")
    luma_doc = client.get(f"{luma.url}/api/v1/docs/{sample_ids[0]}", headers=_headers(luma))
    return {
        "get_luma_body_bytes": len(luma_doc.content),
        "get_hello_body_bytes": len(hello_doc.content),
        "post_body_bytes": len(orjson.dumps({"id": "p1-1-1", **work.post_body})),
        "ycsb_record_bytes": len(orjson.dumps({"id": "user0", **work.records["user0"]})),
    }


# --- trials -------------------------------------------------------------------------------


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _json_line(output: str, what: str) -> dict[str, Any]:
    for line in reversed(output.splitlines()):
        if line.startswith("JSON "):
            parsed: dict[str, Any] = orjson.loads(line[5:])
            return parsed
    raise RuntimeError(f"{what} printed no result:\n{output[-2000:]}")


@dataclass
class WrkTrial:
    """One wrk run per call against ``url`` with ``benchmarks/wrk/luma.lua``.

    ``args(run_no)`` gives the script's arguments (POSTs get a fresh id tag every run).
    Measured runs record latency, wrk's CPU (cores busy) and the server worker's CPU.
    """

    name: str
    url: str
    args: Callable[[int], Sequence[str]]
    seconds: int
    server_pids: tuple[int, ...]
    stats: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    runs: int = 0

    def run(self, seconds: int, record: bool) -> float:
        """One trial of ``seconds``; returns requests per second."""
        self.runs += 1
        argv = [
            "wrk",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            WRK_TIMEOUT,
            "-s",
            str(LUA / "luma.lua"),
            self.url,
            "--",
            *self.args(self.runs),
        ]
        server_before, driver_before = _cpu(self.server_pids), _children_cpu()
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        server_cpu = _cpu(self.server_pids) - server_before
        driver_cpu = _children_cpu() - driver_before
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: wrk failed:\n{done.stdout}\n{done.stderr}")
        result = _json_line(done.stdout, f"{self.name}: wrk")
        errors = {k: v for k, v in result.items() if k.endswith(("_errors", "timeouts")) and v}
        if errors or result["requests"] <= 0:
            raise RuntimeError(f"{self.name}: wrk saw errors {errors}:\n{done.stdout}")
        elapsed = result["duration_us"] / 1e6
        if record:
            stats = self.stats
            stats["p50_ms"].append(result["p50_us"] / 1e3)
            stats["p99_ms"].append(result["p99_us"] / 1e3)
            stats["driver_cpu"].append(driver_cpu / elapsed)
            stats["server_cpu"].append(server_cpu / elapsed)
        return float(result["requests"]) / float(elapsed)

    def __call__(self) -> float:
        """A measured trial."""
        return self.run(self.seconds, record=True)


@dataclass
class RespTrial:
    """One resp-benchmark run per call (a subprocess) with a Lua script, against Redis."""

    name: str
    port: int
    script: Path
    seconds: int
    server_pids: tuple[int, ...]
    stats: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def run(self, seconds: int, record: bool) -> float:
        """One trial of ``seconds``; returns operations per second."""
        argv = [
            sys.executable,
            "-m",
            "benchmarks.http_peers",
            "resp",
            str(self.port),
            str(seconds),
            str(self.script),
            str(CONNECTIONS),
        ]
        server_before = _cpu(self.server_pids)
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=seconds + 60, cwd=ROOT, check=False
        )
        server_cpu = _cpu(self.server_pids) - server_before
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: resp-benchmark failed:\n{done.stderr[-2000:]}")
        result = _json_line(done.stdout, f"{self.name}: resp-benchmark")
        if result["qps"] <= 0 or result["connections"] != CONNECTIONS:
            raise RuntimeError(f"{self.name}: resp-benchmark did not run fully: {result}")
        if record:
            stats = self.stats
            stats["avg_ms"].append(result["avg_ms"])
            stats["p99_ms"].append(result["p99_ms"])
            stats["driver_cpu"].append(result["cpu_s"] / result["bench_s"])
            stats["server_cpu"].append(server_cpu / result["bench_s"])
        return float(result["qps"])

    def __call__(self) -> float:
        """A measured trial."""
        return self.run(self.seconds, record=True)


def redis_script(root: Path, records: int, zetan: float) -> Path:
    """The resp-benchmark script: parameters, ``zipf.lua`` and ``ycsb_redis.lua``."""
    zipf = (LUA / "zipf.lua").read_text()
    text = (
        f"local N, THETA, ZETAN, P = {records}, {THETA!r}, {zetan!r}, {SCRAMBLE}\n"
        f"local make_zipf = (function()\n{zipf}\nend)()\n" + (LUA / "ycsb_redis.lua").read_text()
    )
    path = root / "ycsb_redis.lua"
    path.write_text(text)
    return path


@dataclass
class RedisBenchmarkTrial:
    """A check of the Redis driver: redis-benchmark, ``HGETALL`` of one record, 64 clients.

    Not YCSB (one hot key), but the cheapest read Redis can serve, from Redis's own C load
    generator with the same connections and threads: run in the same rounds, its rate next to
    ``ycsb_redis``'s shows whether resp-benchmark is the weaker driver. redis-benchmark takes
    a request count, so each run asks for about ``seconds`` at the previous run's rate.
    """

    name: str
    port: int
    key: str
    seconds: int
    server_pids: tuple[int, ...]
    stats: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    last_rate: float = 20_000.0

    def run(self, seconds: int, record: bool) -> float:
        """One run of about ``seconds``; returns requests per second."""
        requests = max(5_000, int(self.last_rate * seconds))
        argv = [
            "redis-benchmark",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-c",
            str(CONNECTIONS),
            "--threads",
            str(THREADS),
            "-n",
            str(requests),
            "--csv",
            "HGETALL",
            self.key,
        ]
        server_before, driver_before = _cpu(self.server_pids), _children_cpu()
        began = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        elapsed = time.perf_counter() - began
        server_cpu = _cpu(self.server_pids) - server_before
        driver_cpu = _children_cpu() - driver_before
        rate = 0.0
        for line in done.stdout.splitlines():
            cells = [c.strip('"') for c in line.split(",")]
            if len(cells) > 1 and cells[0].startswith("HGETALL"):
                rate = float(cells[1])
        if done.returncode != 0 or rate <= 0:
            raise RuntimeError(f"{self.name}: redis-benchmark failed:\n{done.stdout}{done.stderr}")
        self.last_rate = rate
        if record:
            self.stats["driver_cpu"].append(driver_cpu / elapsed)
            self.stats["server_cpu"].append(server_cpu / elapsed)
        return rate

    def __call__(self) -> float:
        """A measured run."""
        return self.run(self.seconds, record=True)


# --- the suite ----------------------------------------------------------------------------


def _require_tools() -> None:
    missing = [
        tool for tool in ("wrk", "redis-server", "redis-benchmark") if not shutil.which(tool)
    ]
    try:
        import redis  # noqa: F401
        import resp_benchmark  # noqa: F401
    except ImportError:
        missing.append("resp-benchmark (PyPI)")
    if missing:
        raise SystemExit(f"http suite: missing {', '.join(missing)}; run `make bench-tools`")


def _version(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "not installed"
    return (done.stdout or done.stderr).strip().splitlines()[0]


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while the suite runs, so its servers are stopped."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _report(
    rates: Rates,
    trials: dict[str, WrkTrial | RespTrial | RedisBenchmarkTrial],
    figures: dict[str, float],
    size: Size,
    quick: bool,
) -> Report:
    report = Report("http", TARGETS)
    report.add_ratio("get_vs_hello", rates, "get_luma", "get_hello")
    report.add_ratio("post_vs_hello", rates, "post_luma", "post_hello")
    report.add_ratio("post_group_vs_hello", rates, "post_grp_luma", "post_hello")
    report.add_ratio("post_group_vs_off", rates, "post_grp_luma", "post_luma")
    report.add_ratio("ycsb_c_vs_redis", rates, "ycsb_luma", "ycsb_redis")
    check = ratio_summary(rates, "ycsb_redis", "redis_bench_check")
    report.figures["check_resp_benchmark_vs_redis_benchmark"] = check.median
    report.add_rates("", rates, "req_s")
    for name, trial in trials.items():
        for stat, values in trial.stats.items():
            report.figures[f"{name}_{stat}"] = statistics.median(values)
    report.figures |= figures | {
        "documents": size.documents,
        "records": size.records,
        "connections": CONNECTIONS,
        "driver_threads": THREADS,
        "trial_seconds": size.seconds,
        "rounds": size.rounds,
        "quick": int(quick),
    }
    report.packages("lumadb", "granian", "uvloop", "orjson", "pyjwt", "resp-benchmark", "redis")
    report.versions["wrk"] = _version(["wrk", "--version"])
    report.versions["redis-server"] = _version(["redis-server", "--version"])
    return report


@dataclass
class Servers:
    """Every server of a run, started and loaded."""

    luma: Node  # durability "off": GET, POST, YCSB C
    group: Node  # durability "group": POST
    hello: Node
    redis: ServerProcess
    redis_port: int


def start_servers(
    root: Path, stack: contextlib.ExitStack[Any], password: str, secret: str
) -> Servers:
    """Start all four servers (their stops registered on ``stack``) and wait until they serve."""
    luma = start_luma(root, "luma-off", "off", password, secret)
    stack.callback(luma.server.stop)
    group = start_luma(root, "luma-group", "group", password, secret)
    stack.callback(group.server.stop)
    hello_port = free_port()
    hello = Node(start_hello(hello_port, root / "hello.log"), hello_port)
    stack.callback(hello.server.stop)
    redis_dir = root / "redis"
    redis_dir.mkdir()
    redis_port = free_port()
    redis_server = start_redis(redis_port, redis_dir)
    stack.callback(redis_server.stop)
    for node in (luma, group, hello):
        node.server.wait_ready(functools.partial(http_ok, node.port, "/health"))
        node.workers = _workers_of(node, HELLO_WORKERS)
    redis_server.wait_ready(lambda: redis_ping(redis_port))
    return Servers(luma, group, hello, redis_server, redis_port)


def load_servers(
    servers: Servers, work: Workload, password: str, say: Progress
) -> dict[str, float]:
    """Log in, create the collections, load the documents and records, check them all."""
    luma, group, hello = servers.luma, servers.group, servers.hello
    with httpx.Client(timeout=60) as client:
        luma.token = login(client, luma, password)
        group.token = login(client, group, password)
        hello.token = luma.token  # sent and ignored, so both get the same request bytes
        for node, names in ((luma, ("docs", "posts", "usertable")), (group, ("posts",))):
            for name in names:
                create_collection(client, node, name)
        say(f"loading {len(work.docs):,} documents and {len(work.records):,} YCSB records")
        bulk_load(client, luma, "docs", work.docs)
        bulk_load(client, luma, "usertable", work.records)
        load_redis(servers.redis_port, work.records)
        return check_servers(client, luma, group, hello, servers.redis_port, work)


def make_trials(
    servers: Servers, work: Workload, root: Path, size: Size
) -> dict[str, WrkTrial | RespTrial | RedisBenchmarkTrial]:
    """The seven contenders and the Redis driver check, each one load-generator run per call."""
    ids_file = root / "ids.txt"
    ids_file.write_text("\n".join(work.docs) + "\n")
    body_file = root / "post_body.json"
    body_file.write_bytes(orjson.dumps(work.post_body))
    script = redis_script(root, size.records, work.zetan)
    zipf = [str(LUA / "zipf.lua"), str(size.records), repr(THETA), repr(work.zetan)]
    zipf.append(str(SCRAMBLE))

    def get(node: Node) -> Callable[[int], list[str]]:
        return lambda n: ["get", "/api/v1/docs", node.token, str(n), str(ids_file)]

    def post(node: Node, tag: str) -> Callable[[int], list[str]]:
        return lambda n: ["post", "/api/v1/posts", node.token, str(n), str(body_file), f"{tag}{n}"]

    def ycsb(node: Node) -> Callable[[int], list[str]]:
        return lambda n: ["ycsb", "/api/v1/usertable", node.token, str(n), *zipf]

    luma, group, hello = servers.luma, servers.group, servers.hello
    wrk: dict[str, tuple[Node, Callable[[int], Sequence[str]]]] = {
        "get_luma": (luma, get(luma)),
        "get_hello": (hello, get(hello)),
        "post_luma": (luma, post(luma, "off")),
        "post_hello": (hello, post(hello, "hello")),
        "post_grp_luma": (group, post(group, "group")),
        "ycsb_luma": (luma, ycsb(luma)),
    }
    trials: dict[str, WrkTrial | RespTrial | RedisBenchmarkTrial] = {
        name: WrkTrial(name, node.url, args, size.seconds, node.workers)
        for name, (node, args) in wrk.items()
    }
    trials["ycsb_redis"] = RespTrial(
        "ycsb_redis", servers.redis_port, script, size.seconds, (servers.redis.pid,)
    )
    # rank 0, the hottest record, is record 0
    trials["redis_bench_check"] = RedisBenchmarkTrial(
        "redis_bench_check", servers.redis_port, "user0", size.seconds, (servers.redis.pid,)
    )
    return trials


def run(quick: bool) -> Report:
    """Run the suite (``quick``: 1 s trials, 6 rounds, 10 k documents; else 5 s, 7, 100 k)."""
    _require_tools()
    size = QUICK if quick else FULL
    say = Progress("http")
    work = make_workload(size)
    settle()
    password, secret = secrets.token_urlsafe(18), secrets.token_urlsafe(48)
    figures: dict[str, float] = {"loadavg_1m_start": os.getloadavg()[0]}
    with _sigterm_unwinds(), scratch_dir("http") as root, contextlib.ExitStack() as stack:
        say("starting luma serve (durability off and group), the hello app and redis-server")
        servers = start_servers(root, stack, password, secret)
        figures |= load_servers(servers, work, password, say)
        trials = make_trials(servers, work, root, size)
        say(f"warm-up: {size.warmup_seconds} s of each contender")
        for trial in trials.values():
            trial.run(size.warmup_seconds, record=False)
        say(
            f"{len(trials)} contenders, {size.rounds} rounds of {size.seconds} s each, "
            f"{CONNECTIONS} connections, {THREADS} driver threads"
        )
        contenders: dict[str, Trial] = dict(trials)
        rates = alternate(size.rounds, contenders, warmup=0)
        say.rates("req/s", rates)
        figures["loadavg_1m_end"] = os.getloadavg()[0]
    say("done")
    return _report(rates, trials, figures, size, quick)
