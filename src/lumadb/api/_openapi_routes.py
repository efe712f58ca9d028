"""What the OpenAPI document says about each route, keyed by ``(method, template)``.

The router knows each route's method, template, summary and whether it is public; this table
adds what only the handlers know: the body they read, the parameters they take and the
statuses they answer besides the ones every route shares (which the builder adds).
:func:`lumadb.api.openapi.build_openapi` refuses a route missing from it.

Schemas (JSON Schema 2020-12) are as strict as the handlers and no stricter: what a handler
refuses, its schema refuses, so a request that fits the schema is one the server must take
and one that does not is one it must refuse with a 4xx. Keep both in step when a handler
changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "JSON",
    "OPERATIONS",
    "PARAMETERS",
    "SCHEMAS",
    "STRING",
    "Body",
    "Operation",
    "Reply",
    "Schema",
    "ref",
]

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful answer: its schema (a component name; None for no body) and headers."""

    description: str
    schema: str | None = None
    headers: tuple[str, ...] = ()
    media: tuple[str, ...] = (JSON,)


@dataclass(frozen=True, slots=True)
class Body:
    """A request body: the schema component and the media types the handler accepts."""

    schema: str
    media: tuple[str, ...] = (JSON,)


@dataclass(frozen=True, slots=True)
class Operation:
    """The handler's side of one route."""

    operation_id: str
    tag: str
    replies: Mapping[int, Reply]
    errors: tuple[int, ...] = ()
    body: Body | None = None
    parameters: tuple[str, ...] = ()  # components/parameters: query and request headers
    path: Mapping[str, str] = field(default_factory=dict)  # path parameter -> schema


Schema = dict[str, Any]


def ref(name: str, kind: str = "schemas") -> Schema:
    """A reference to the component ``name`` of ``kind``."""
    return {"$ref": f"#/components/{kind}/{name}"}


def _object(properties: Schema, required: Iterable[str] = (), **extra: Any) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(required),
        "additionalProperties": False,
        **extra,
    }


STRING: Schema = {"type": "string"}
_SETTINGS: dict[str, Schema] = {
    "schema": {
        "type": ["object", "boolean", "null"],
        "description": "a JSON Schema every write must match (null: none)",
    },
    "indexes": {
        "type": "array",
        "description": "value and text indexes: {name?, fields: [paths], unique?, kind?}",
        "items": _object(
            {
                "name": STRING,
                "fields": {"type": "array", "items": STRING, "minItems": 1},
                "unique": {"type": "boolean"},
                "kind": {"enum": ["value", "text"]},
            },
            ("fields",),
        ),
    },
    "vectors": {
        "type": "object",
        "description": "vector indexes by field path: {dim, metric?, index?, embed_from?, ...}",
        "additionalProperties": {"$ref": "#/components/schemas/VectorIndex"},
    },
    "ttl": {
        "type": ["string", "number", "null"],
        "description": "documents expire this long after their last write ('30d', seconds; "
        "null: never)",
    },
}
_MS: Schema = {"type": "integer", "minimum": 0, "description": "milliseconds since the epoch"}
_ACTIONS: Schema = {"type": "array", "items": {"enum": ["read", "write", "admin"]}, "minItems": 1}
_GRANTS: Schema = {
    "type": "object",
    "description": (
        'actions per collection name ("*" for every collection), or {"actions", "rows"} to '
        'reach only the documents the filter "rows" matches ("$user" is the caller)'
    ),
    "additionalProperties": {
        "oneOf": [
            _ACTIONS,
            {
                "type": "object",
                "properties": {"actions": _ACTIONS, "rows": {"type": "object"}},
                "required": ["actions", "rows"],
                "additionalProperties": False,
            },
        ]
    },
}
_ME_GRANTS: Schema = {
    "type": "object",
    "description": 'actions per collection name, "*" for every collection',
    "additionalProperties": _ACTIONS,
}
_DOCUMENT_ID: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 512,
    "description": "printable characters, 1 to 512 bytes of UTF-8",
}

_KEY: Schema = {
    "id": STRING,
    "name": STRING,
    "owner": STRING,
    "roles": {"type": "array", "items": STRING},
    "created_ms": _MS,
    "expires_ms": {"type": ["integer", "null"], "minimum": 0},
}

SCHEMAS: dict[str, Schema] = {
    "Error": _object(
        {
            "error": _object(
                {"code": {"type": "string", "pattern": "^[a-z_]+$"}, "message": STRING},
                ("code", "message"),
            )
        },
        ("error",),
    ),
    "Text": STRING,
    "OpenApi": {"type": "object", "required": ["openapi", "paths"]},
    "Asset": {"description": "the file's bytes"},
    "Health": _object(
        {
            "status": {"enum": ["ok", "degraded"]},
            "shards": {
                "type": "array",
                "items": _object(
                    {
                        "shard": {"type": "integer", "minimum": 0},
                        "ready": {"type": "boolean"},
                        "read_only": {"type": "boolean"},
                    },
                    ("shard", "ready", "read_only"),
                ),
            },
        },
        ("status", "shards"),
    ),
    "Degraded": {"anyOf": [ref("Health"), ref("Error")]},
    "TriggerName": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,62}$"},
    "TriggerCreate": _object(
        {
            "name": {"$ref": "#/components/schemas/TriggerName"},
            "collection": {"$ref": "#/components/schemas/CollectionName"},
            "on": {
                "type": "array",
                "items": {"enum": ["insert", "update", "delete"]},
                "minItems": 1,
            },
            "when": {"type": ["string", "null"], "description": "LQL over new.* and old.*"},
            "payload": {"type": ["array", "null"], "items": {"type": "string", "minLength": 1}},
            "sink": {
                "type": "object",
                "properties": {"type": {"enum": ["webhook", "kafka"]}},
                "required": ["type"],
                "description": "webhook: url, headers?, secret?; kafka: bootstrap, topic",
            },
            "retry": _object(
                {
                    "max_attempts": {"type": "integer", "minimum": 1, "maximum": 100},
                    "backoff_ms": {"type": "integer", "minimum": 0, "maximum": 3600000},
                    "max_backoff_ms": {"type": "integer", "minimum": 0, "maximum": 86400000},
                    "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 600000},
                }
            ),
            "enabled": {"type": "boolean"},
        },
        ("name", "collection", "sink"),
    ),
    "Trigger": {"type": "object", "description": "a trigger (secrets shown as ***)"},
    "TriggerList": _object({"triggers": {"type": "array", "items": {"type": "object"}}}),
    "DeadLetters": _object({"dead_letters": {"type": "array", "items": {"type": "object"}}}),
    "TriggerDone": {"type": "object", "description": "what was done and how many"},
    "Replay": _object(
        {
            "since": {
                "type": "object",
                "additionalProperties": {"type": "integer", "minimum": 0},
                "description": "shard number -> sequence number to deliver after",
            }
        },
        ("since",),
    ),
    "TriggerPatch": _object(
        {"enabled": {"type": "boolean", "description": "false pauses deliveries (cursors wait)"}},
        ("enabled",),
    ),
    "CollectionName": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"},
    "AccountName": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_.@-]{0,63}$"},
    "Changefeed": {
        "enum": ["new", "new_and_old"],
        "description": "what a change-feed record carries: the new document, or also the old",
    },
    "Collection": _object(
        {
            "name": ref("CollectionName"),
            "changefeed": ref("Changefeed"),
            "created_ms": _MS,
            "indexes": {"type": "array", "items": ref("IndexDescribed")},
            "vectors": {"type": "object", "additionalProperties": {"type": "object"}},
            "schema": {"type": ["object", "boolean"]},
            "ttl_seconds": {"type": "number"},
        },
        ("name", "changefeed", "created_ms"),
    ),
    "IndexDescribed": {
        "type": "object",
        "properties": {
            "name": STRING,
            "path": STRING,
            "fields": {"type": "array", "items": STRING},
            "kind": {"enum": ["value", "text"]},
            "unique": {"type": "boolean"},
        },
        "required": ["name", "path", "fields"],
    },
    "CollectionCreate": _object(
        {
            "name": ref("CollectionName"),
            "changefeed": ref("Changefeed"),
            **_SETTINGS,
        },
        ("name",),
    ),
    "CollectionPatch": _object(
        {
            "schema": _SETTINGS["schema"],
            "indexes": _SETTINGS["indexes"],
            "vectors": {
                "type": "object",
                "description": "by field path: options to declare or change, null to drop",
                "additionalProperties": {"anyOf": [ref("VectorIndex"), {"type": "null"}]},
            },
            "ttl": _SETTINGS["ttl"],
        },
        description="a JSON merge patch of the description: a key given replaces it",
    ),
    "VectorIndex": _object(
        {
            "dim": {"type": "integer", "minimum": 1, "maximum": 16384},
            "metric": {"enum": ["cosine", "l2", "ip"]},
            "index": {"enum": ["hnsw", "ivf_pq", "flat"]},
            "m": {"type": "integer"},
            "ef_construction": {"type": "integer"},
            "ef_search": {"type": "integer"},
            "nlist": {"type": "integer"},
            "pq_m": {"type": "integer"},
            "nprobe": {"type": "integer"},
            "embed_from": {
                "type": "array",
                "items": STRING,
                "minItems": 1,
                "description": "fields whose text the server embeds into this one on writes",
            },
            "model": {
                "type": "string",
                "description": "all-MiniLM-L6-v2 (default), local:<dir>, openai:<model>, "
                "clip:<dir>",
            },
        },
        (),
    ),
    "CollectionList": _object(
        {"collections": {"type": "array", "items": ref("Collection")}}, ("collections",)
    ),
    "DocumentId": _DOCUMENT_ID,
    "DocumentIn": {
        "type": "object",
        "description": "any JSON object; an id, when given, must be the document's id",
        "properties": {"id": ref("DocumentId")},
    },
    "MergePatch": {
        "type": "object",
        "description": "RFC 7396: objects merge, null removes a key; id cannot change",
        "properties": {"id": ref("DocumentId")},
    },
    "Document": {
        "type": "object",
        "properties": {"id": ref("DocumentId")},
        "required": ["id"],
    },
    "DocumentRef": _object({"id": ref("DocumentId")}, ("id",)),
    "DocumentPage": _object(
        {
            "items": {"type": "array", "items": ref("Document")},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "pass as cursor for the next page; null on the last page",
            },
        },
        ("items", "next_cursor"),
    ),
    "Ndjson": {"type": "string", "description": "one JSON object per line"},
    "BulkResult": _object(
        {
            "count": {"type": "integer", "minimum": 1},
            "ids": {"type": "array", "items": ref("DocumentId"), "minItems": 1},
        },
        ("count", "ids"),
    ),
    "Login": _object({"username": STRING, "password": STRING}, ("username", "password")),
    "Query": _object(
        {
            "query": {"type": "string", "description": "LQL statements (docs/lql.md)"},
            "params": {
                "type": ["array", "object", "null"],
                "description": "values for ? (a list) or :name (an object)",
            },
        },
        ("query",),
    ),
    "Search": _object(
        {
            "vector": {"type": "array", "items": {"type": "number"}, "minItems": 1},
            "text": {
                "type": "string",
                "minLength": 1,
                "description": "embedded with the field's model (instead of vector)",
            },
            "hybrid": {"type": "boolean", "description": "fuse with BM25 by reciprocal rank"},
            "text_field": {"type": "string", "description": "the text-indexed field (hybrid)"},
            "k": {"type": "integer", "minimum": 1, "maximum": 10000},
            "field": {"type": "string", "description": "the vector field (default: the only one)"},
            "where": {"type": "string", "description": "an LQL condition (pre-filter)"},
            "params": {"type": "array", "description": "values for the ? of where"},
        },
        (),
    ),
    "SearchResult": _object(
        {
            "hits": {
                "type": "array",
                "items": _object(
                    {
                        "id": ref("DocumentId"),
                        "score": {"type": "number", "description": "higher is nearer"},
                        "distance": {
                            "type": ["number", "null"],
                            "description": "the metric's distance (null: not in the vector "
                            "ranking of a hybrid search)",
                        },
                        "text_score": {
                            "type": ["number", "null"],
                            "description": "BM25 of a hybrid search (null: not matched)",
                        },
                        "document": ref("Document"),
                    },
                    ("id", "score", "distance", "document"),
                ),
            }
        },
        ("hits",),
    ),
    "Question": _object(
        {
            "question": {"type": "string", "minLength": 1, "maxLength": 2000},
            "dry_run": {"type": "boolean", "description": "translate only; run nothing"},
            "collection": {
                "type": ["string", "null"],
                "description": "ask about this collection only",
            },
        },
        ("question",),
    ),
    "Answer": _object(
        {
            "question": STRING,
            "lql": {"type": "string", "description": "the LQL the question became"},
            "provider": {"enum": ["builtin", "openai", "llama"]},
            "columns": {"type": "array", "items": STRING},
            "rows": {"type": "array", "items": {"type": "array"}},
        },
        ("question", "lql", "provider"),
    ),
    "AuditEntries": _object(
        {"entries": {"type": "array", "items": {"type": "object"}}}, ("entries",)
    ),
    "QueryResult": _object(
        {
            "columns": {"type": "array", "items": STRING},
            "rows": {"type": "array", "items": {"type": "array"}},
        },
        ("columns", "rows"),
    ),
    "Token": _object(
        {
            "access_token": STRING,
            "token_type": {"const": "bearer"},
            "expires_in": {"type": "integer", "minimum": 1, "description": "seconds"},
        },
        ("access_token", "token_type", "expires_in"),
    ),
    "Me": _object(
        {"name": STRING, "grants": _ME_GRANTS, "system": {"type": "boolean"}},
        ("name", "grants", "system"),
    ),
    "Password": {"type": "string", "minLength": 8, "maxLength": 1024},
    "RoleNames": {"type": "array", "items": STRING},
    "User": _object(
        {"name": ref("AccountName"), "roles": ref("RoleNames"), "created_ms": _MS},
        ("name", "roles", "created_ms"),
    ),
    "UserCreate": _object(
        {"name": ref("AccountName"), "password": ref("Password"), "roles": ref("RoleNames")},
        ("name", "password"),
    ),
    "UserChange": _object(
        {"password": ref("Password"), "roles": ref("RoleNames")}, (), minProperties=1
    ),
    "UserList": _object({"users": {"type": "array", "items": ref("User")}}, ("users",)),
    "Role": _object(
        {"name": ref("AccountName"), "grants": _GRANTS, "system": {"type": "boolean"}},
        ("name", "grants", "system"),
    ),
    "RoleCreate": _object(
        {
            "name": ref("AccountName"),
            "grants": {**_GRANTS, "minProperties": 1},
            "system": {"type": "boolean", "default": False},
        },
        ("name", "grants"),
    ),
    "RoleList": _object({"roles": {"type": "array", "items": ref("Role")}}, ("roles",)),
    "KeyId": STRING,
    "ApiKey": _object(_KEY, set(_KEY)),
    "KeyCreated": _object(
        {**_KEY, "key": {**STRING, "description": "luma_<id>_<secret>; shown only here"}},
        {*_KEY, "key"},
    ),
    "KeyCreate": _object(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "roles": {**ref("RoleNames"), "description": "default: the owner's roles"},
            "expires_in": {
                "type": ["integer", "null"],
                "minimum": 1,
                "maximum": 100 * 365 * 86400,
                "description": "seconds (at most 100 years); null or left out: never",
            },
        },
        ("name",),
    ),
    "KeyList": _object({"keys": {"type": "array", "items": ref("ApiKey")}}, ("keys",)),
}


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "schema": schema, "description": description}


def _header(name: str, description: str) -> Schema:
    return {"name": name, "in": "header", "schema": STRING, "description": description}


PARAMETERS: dict[str, Schema] = {
    "audit_limit": _query(
        "limit", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}, "entries"
    ),
    "limit": _query(
        "limit", {"type": "integer", "minimum": 0, "maximum": 1000, "default": 100}, "page size"
    ),
    "offset": _query(
        "offset", {"type": "integer", "minimum": 0, "maximum": 10000, "default": 0}, "skip"
    ),
    "prefix": _query("prefix", STRING, "only ids starting with this"),
    "cursor": _query(
        "cursor",
        {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
        "next_cursor of the previous page (not with order_by)",
    ),
    "where": _query(
        "where",
        {"type": "string", "minLength": 1},
        'an LQL condition (age > 30 AND city = \'Oslo\') or a JSON filter ({"age": {"$gte": '
        "30}}); see docs/http.md",
    ),
    "order_by": _query(
        "order_by",
        {"type": "string", "minLength": 1},
        "1 to 8 comma-separated paths, all ascending (age,name) or all descending (-age)",
    ),
    "IfMatch": _header("If-Match", "apply only while the document has this ETag (else 412)"),
    "IfNoneMatch": _header("If-None-Match", "304 without a body while the ETag is still this"),
    "IfNoneMatchStar": _header("If-None-Match", "`*`: only create (409 if the id exists)"),
}


_ACCOUNT = {"name": "AccountName"}
_COLLECTION = {"name": "CollectionName"}
_TRIGGER = {"name": "TriggerName"}
_GONE = Reply("Done; no body")

OPERATIONS: Mapping[tuple[str, str], Operation] = {
    ("GET", "/health"): Operation(
        "health",
        "system",
        {
            200: Reply("Every shard takes writes", "Health"),
            503: Reply("A shard is read-only, or the node is starting or stopping", "Degraded"),
        },
    ),
    ("GET", "/metrics"): Operation(
        "metrics",
        "system",
        {200: Reply("Prometheus text format", "Text", media=("text/plain",))},
        (403,),
    ),
    ("POST", "/api/v1/_auth/token"): Operation(
        "login",
        "auth",
        {200: Reply("An access token", "Token", ("Cache-Control",))},
        (401, 429),
        Body("Login"),
    ),
    ("GET", "/api/v1/_auth/me"): Operation(
        "whoAmI", "auth", {200: Reply("The caller and its grants", "Me")}
    ),
    ("POST", "/api/v1/_query"): Operation(
        "runQuery",
        "query",
        {200: Reply("The columns and rows of the last statement", "QueryResult")},
        (403, 404, 409),
        Body("Query"),
    ),
    ("POST", "/api/v1/_nlq"): Operation(
        "ask",
        "query",
        {200: Reply("The question's LQL and its rows", "Answer")},
        (403, 404, 422),
        Body("Question"),
    ),
    ("GET", "/api/v1/_nlq/audit"): Operation(
        "questionAudit",
        "query",
        {200: Reply("The newest questions asked, newest first", "AuditEntries")},
        (400, 403),
        parameters=("audit_limit",),
    ),
    ("GET", "/api/v1/_triggers"): Operation(
        "listTriggers",
        "events",
        {200: Reply("Triggers on collections the caller administers", "TriggerList")},
    ),
    ("POST", "/api/v1/_triggers"): Operation(
        "createTrigger",
        "events",
        {201: Reply("Created", "Trigger", ("Location",))},
        (403, 404, 409),
        Body("TriggerCreate"),
    ),
    ("GET", "/api/v1/_triggers/{name}"): Operation(
        "describeTrigger",
        "events",
        {200: Reply("The trigger and its figures", "Trigger")},
        (403, 404),
        path=_TRIGGER,
    ),
    ("DELETE", "/api/v1/_triggers/{name}"): Operation(
        "dropTrigger", "events", {200: Reply("Dropped", "TriggerDone")}, (403, 404), path=_TRIGGER
    ),
    ("PATCH", "/api/v1/_triggers/{name}"): Operation(
        "pauseOrResumeTrigger",
        "events",
        {200: Reply("The trigger", "Trigger")},
        (400, 403, 404),
        Body("TriggerPatch"),
        path=_TRIGGER,
    ),
    ("GET", "/api/v1/_triggers/{name}/dead"): Operation(
        "deadLetters",
        "events",
        {200: Reply("Events that failed every attempt", "DeadLetters")},
        (400, 403, 404),
        parameters=("audit_limit",),
        path=_TRIGGER,
    ),
    ("DELETE", "/api/v1/_triggers/{name}/dead"): Operation(
        "purgeDeadLetters",
        "events",
        {200: Reply("Purged", "TriggerDone")},
        (403, 404),
        path=_TRIGGER,
    ),
    ("POST", "/api/v1/_triggers/{name}/redeliver"): Operation(
        "redeliverDeadLetters",
        "events",
        {200: Reply("Redelivering", "TriggerDone")},
        (403, 404),
        path=_TRIGGER,
    ),
    ("POST", "/api/v1/_triggers/{name}/replay"): Operation(
        "replayTrigger",
        "events",
        {200: Reply("Replaying", "TriggerDone")},
        (403, 404),
        Body("Replay"),
        path=_TRIGGER,
    ),
    ("GET", "/api/v1/_collections"): Operation(
        "listCollections",
        "collections",
        {200: Reply("The collections the caller may read", "CollectionList")},
    ),
    ("POST", "/api/v1/_collections"): Operation(
        "createCollection",
        "collections",
        {201: Reply("Created", "Collection", ("Location",))},
        (403, 409),
        Body("CollectionCreate"),
    ),
    ("GET", "/api/v1/_collections/{name}"): Operation(
        "describeCollection",
        "collections",
        {200: Reply("The collection", "Collection")},
        (403, 404),
        path=_COLLECTION,
    ),
    ("PATCH", "/api/v1/_collections/{name}"): Operation(
        "changeCollection",
        "collections",
        {200: Reply("The collection as it is now", "Collection")},
        (403, 404, 409, 422),
        Body("CollectionPatch"),
        path=_COLLECTION,
    ),
    ("DELETE", "/api/v1/_collections/{name}"): Operation(
        "dropCollection", "collections", {204: _GONE}, (403, 404), path=_COLLECTION
    ),
    ("GET", "/api/v1/_users"): Operation(
        "listUsers", "users", {200: Reply("Every user", "UserList")}, (403,)
    ),
    ("POST", "/api/v1/_users"): Operation(
        "createUser",
        "users",
        {201: Reply("Created", "User")},
        (403, 409),
        Body("UserCreate"),
    ),
    ("GET", "/api/v1/_users/{name}"): Operation(
        "describeUser", "users", {200: Reply("The user", "User")}, (403, 404), path=_ACCOUNT
    ),
    ("PATCH", "/api/v1/_users/{name}"): Operation(
        "changeUser",
        "users",
        {200: Reply("The changed user", "User")},
        (403, 404),
        Body("UserChange", (JSON, "application/merge-patch+json")),
        path=_ACCOUNT,
    ),
    ("DELETE", "/api/v1/_users/{name}"): Operation(
        "deleteUser", "users", {204: _GONE}, (403, 404, 409), path=_ACCOUNT
    ),
    ("GET", "/api/v1/_roles"): Operation(
        "listRoles", "roles", {200: Reply("Built-in and custom roles", "RoleList")}, (403,)
    ),
    ("POST", "/api/v1/_roles"): Operation(
        "putRole",
        "roles",
        {201: Reply("Created or replaced", "Role")},
        (403,),
        Body("RoleCreate"),
    ),
    ("DELETE", "/api/v1/_roles/{name}"): Operation(
        "deleteRole", "roles", {204: _GONE}, (403, 404), path=_ACCOUNT
    ),
    ("GET", "/api/v1/_keys"): Operation(
        "listKeys",
        "keys",
        {200: Reply("The caller's keys (every key for a system user)", "KeyList")},
    ),
    ("POST", "/api/v1/_keys"): Operation(
        "createKey",
        "keys",
        {201: Reply("Created; the key is in this answer only", "KeyCreated", ("Cache-Control",))},
        (403, 404),
        Body("KeyCreate"),
    ),
    ("DELETE", "/api/v1/_keys/{id}"): Operation(
        "deleteKey", "keys", {204: _GONE}, (403, 404), path={"id": "KeyId"}
    ),
    ("GET", "/api/v1/{collection}"): Operation(
        "listDocuments",
        "documents",
        {200: Reply("One page of documents in id order", "DocumentPage")},
        (403, 404),
        parameters=("where", "order_by", "limit", "offset", "prefix", "cursor"),
    ),
    ("POST", "/api/v1/{collection}"): Operation(
        "createDocument",
        "documents",
        {201: Reply("Created", "DocumentRef", ("Location",))},
        (403, 404, 409),
        Body("DocumentIn"),
    ),
    ("POST", "/api/v1/{collection}/_search"): Operation(
        "searchDocuments",
        "documents",
        {200: Reply("The nearest documents, nearest first", "SearchResult")},
        (403, 404),
        Body("Search"),
    ),
    ("POST", "/api/v1/{collection}/_bulk"): Operation(
        "bulkWrite",
        "documents",
        {200: Reply("Every line was written", "BulkResult")},
        (403, 404),
        Body("Ndjson", ("application/x-ndjson", JSON)),
    ),
    ("GET", "/api/v1/{collection}/{id}"): Operation(
        "readDocument",
        "documents",
        {
            200: Reply("The document", "Document", ("ETag",)),
            304: Reply("The document is still at the version If-None-Match names", None, ("ETag",)),
        },
        (403, 404),
        parameters=("IfNoneMatch",),
    ),
    ("PUT", "/api/v1/{collection}/{id}"): Operation(
        "replaceDocument",
        "documents",
        {
            200: Reply("Replaced or created", "DocumentRef", ("ETag?",)),
            201: Reply("Created (If-None-Match: *)", "DocumentRef", ("ETag",)),
        },
        (403, 404, 409, 412),
        Body("DocumentIn"),
        ("IfMatch", "IfNoneMatchStar"),
    ),
    ("PATCH", "/api/v1/{collection}/{id}"): Operation(
        "patchDocument",
        "documents",
        {200: Reply("The merged document", "Document", ("ETag",))},
        (403, 404, 412),
        Body("MergePatch", ("application/merge-patch+json", JSON)),
        ("IfMatch",),
    ),
    ("DELETE", "/api/v1/{collection}/{id}"): Operation(
        "deleteDocument", "documents", {204: _GONE}, (403, 404, 412), parameters=("IfMatch",)
    ),
    ("GET", "/openapi.json"): Operation(
        "openapi", "docs", {200: Reply("This document (OpenAPI 3.1)", "OpenApi")}
    ),
    ("GET", "/docs"): Operation(
        "docs", "docs", {200: Reply("Swagger UI", "Text", media=("text/html",))}, (404,)
    ),
    ("GET", "/docs/{asset}"): Operation(
        "docsAsset",
        "docs",
        {
            200: Reply(
                "A file of Swagger UI",
                "Asset",
                ("Cache-Control",),
                ("text/css", "text/javascript", "image/png", JSON),
            )
        },
        (404,),
    ),
}
