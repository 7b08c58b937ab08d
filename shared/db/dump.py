"""Dump and restore a database in mongodump's layout, streaming in constant memory.

A dump of database ``db`` into ``out`` is ``out/db/<collection>.bson`` (the documents,
BSON back to back) and ``out/db/<collection>.metadata.json`` (Extended JSON holding
the indexes), both optionally gzipped (``.bson.gz``, ``.metadata.json.gz``), as
``mongodump --out out [--gzip]`` writes them; ``mongorestore --dir out`` reads it, and
so does ``restore`` here. Used by scripts/backup_db.py and scripts/restore_db.py, and
by the local host to keep the embedded database across restarts. Not loaded by the app.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import bson
from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from shared.db.names import Document

DEFAULT_BATCH = 1000
# Insert batches also stop at this many bytes, so memory stays flat whatever the documents.
MAX_BATCH_BYTES = 8 * 1024 * 1024
DUPLICATE_KEY = 11000
_BSON = ".bson"
_METADATA = ".metadata.json"
_GZ = ".gz"
_RAW = CodecOptions(document_class=RawBSONDocument, tz_aware=True)
_DECODED: CodecOptions[Document] = CodecOptions(document_class=dict, tz_aware=True)


class Progress(Protocol):
    """What a progress bar offers: advance by n, and close."""

    def update(self, n: int) -> object: ...

    def close(self) -> object: ...


# (label, total, unit) -> a progress bar; None shows nothing.
ProgressFactory = Callable[[str, int, str], Progress]


class DumpError(RuntimeError):
    """A dump that cannot be read or restored as asked."""


@dataclass(frozen=True)
class CollectionResult:
    """One collection dumped or restored."""

    name: str
    documents: int
    indexes: int
    skipped_duplicates: int = 0


class _NoProgress:
    def update(self, n: int) -> object:
        return None

    def close(self) -> object:
        return None


def database_dir(out: Path, database_name: str) -> Path:
    """Where a dump of ``database_name`` under ``out`` keeps its files."""
    return out / database_name


def dump(
    database: Database[Document],
    out: Path,
    *,
    compress: bool = False,
    collections: list[str] | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressFactory | None = None,
) -> list[CollectionResult]:
    """Write every collection (or those named) of ``database`` under ``out/<name>/``."""
    target = database_dir(out, database.name)
    target.mkdir(parents=True, exist_ok=True)
    names = collections or sorted(
        name for name in database.list_collection_names() if not name.startswith("system.")
    )
    suffix = _GZ if compress else ""
    results = []
    for name in names:
        collection = database[name]
        indexes = _indexes(collection)
        metadata = {"indexes": indexes, "uuid": "", "collectionName": name, "type": "collection"}
        with _open(target / f"{name}{_METADATA}{suffix}", "wb") as out_file:
            out_file.write(
                json_util.dumps(metadata, json_options=json_util.CANONICAL_JSON_OPTIONS).encode()
            )
        bar = _bar(progress, name, collection.estimated_document_count(), "doc")
        count = 0
        try:
            with _open(target / f"{name}{_BSON}{suffix}", "wb") as out_file:
                for raw in _raw_documents(database, name, batch_size):
                    out_file.write(raw)
                    count += 1
                    bar.update(1)
        finally:
            bar.close()
        results.append(CollectionResult(name, count, len(indexes)))
    return results


def restore(
    database: Database[Document],
    source: Path,
    *,
    drop: bool = False,
    collections: list[str] | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: ProgressFactory | None = None,
) -> list[CollectionResult]:
    """Load a dump directory (the one holding the ``.bson`` files) into ``database``.

    With ``drop`` each collection is dropped first; otherwise documents whose ``_id``
    exists already are kept and counted as skipped, as mongorestore does. Raises
    DumpError when a collection ends with fewer documents than the dump holds.
    """
    found = dump_contents(source)
    if not found:
        raise DumpError(f"{source} holds no .bson files")
    names = collections or sorted(found)
    missing = [name for name in names if name not in found]
    if missing:
        raise DumpError(f"not in the dump: {', '.join(missing)}")
    results = []
    for name in names:
        bson_path = found[name]
        collection = database[name]
        if drop:
            collection.drop()
        indexes = _read_metadata(bson_path).get("indexes", [])
        bar = _bar(progress, name, bson_path.stat().st_size, "B")
        try:
            read, skipped = _insert_all(database, name, bson_path, batch_size, bar)
        finally:
            bar.close()
        _create_indexes(collection, indexes)
        present = collection.count_documents({})
        if present < read or (drop and present != read):
            raise DumpError(f"{name}: {read} documents in the dump but {present} after restore")
        results.append(CollectionResult(name, read - skipped, len(indexes), skipped))
    return results


def dump_contents(source: Path) -> dict[str, Path]:
    """Collection name -> its ``.bson`` (or ``.bson.gz``) file in a dump directory."""
    found: dict[str, Path] = {}
    if not source.is_dir():
        return found
    for path in sorted(source.iterdir()):
        for suffix in (_BSON, _BSON + _GZ):
            if path.name.endswith(suffix) and not path.name.startswith("system."):
                found[path.name[: -len(suffix)]] = path
    return found


def iter_documents(bson_path: Path) -> Iterator[Document]:
    """The documents of one ``.bson``/``.bson.gz`` file, one at a time."""
    with _open(bson_path, "rb") as in_file:
        yield from bson.decode_file_iter(in_file, codec_options=_DECODED)


def read_metadata(bson_path: Path) -> dict[str, Any]:
    """The metadata document beside a ``.bson`` file ({} when there is none)."""
    return _read_metadata(bson_path)


def _is_embedded(database: Database[Document]) -> bool:
    # The embedded mongomock stand-in is a proxy, not a pymongo Database.
    return not isinstance(database, Database)


def _raw_documents(database: Database[Document], name: str, batch_size: int) -> Iterator[bytes]:
    if _is_embedded(database):
        for document in database[name].find({}):
            yield bson.encode(document, codec_options=_DECODED)
        return
    # Raw documents go to disk byte for byte: no decode, types (int64, decimal) kept exactly.
    raw: Any = database.get_collection(name, codec_options=_RAW)
    for raw_document in raw.find({}, batch_size=batch_size):
        yield bytes(raw_document.raw)


def _insert_all(
    database: Database[Document], name: str, bson_path: Path, batch_size: int, bar: Progress
) -> tuple[int, int]:
    """Insert every document of the file in bounded batches; (read, skipped duplicates)."""
    embedded = _is_embedded(database)
    target: Any = database[name] if embedded else database.get_collection(name, codec_options=_RAW)
    read = skipped = 0
    batch: list[Any] = []
    batch_bytes = 0
    with _open(bson_path, "rb") as in_file:
        position = 0
        for document in bson.decode_file_iter(
            in_file, codec_options=_DECODED if embedded else _RAW
        ):
            size = (
                len(document.raw)
                if isinstance(document, RawBSONDocument)
                else len(bson.encode(document))
            )
            batch.append(document)
            batch_bytes += size
            read += 1
            if len(batch) >= batch_size or batch_bytes >= MAX_BATCH_BYTES:
                skipped += _insert_batch(target, batch)
                batch, batch_bytes = [], 0
            current = _compressed_position(in_file)
            bar.update(current - position)
            position = current
        if batch:
            skipped += _insert_batch(target, batch)
    return read, skipped


def _compressed_position(in_file: IO[bytes]) -> int:
    # For gzip the progress follows the compressed bytes read, which the bar's total counts.
    raw_file = getattr(in_file, "fileobj", None)
    return int((raw_file or in_file).tell())


def _insert_batch(collection: Any, batch: list[Any]) -> int:
    """Insert; documents whose _id exists already are skipped (and counted)."""
    try:
        collection.insert_many(batch, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        return len(errors)
    return 0


def _indexes(collection: Collection[Document]) -> list[dict[str, Any]]:
    indexes = []
    for index in collection.list_indexes():
        spec = {key: value for key, value in dict(index).items() if key != "ns"}
        spec["key"] = dict(spec["key"])
        indexes.append(spec)
    return indexes


def _create_indexes(collection: Collection[Document], indexes: list[dict[str, Any]]) -> None:
    for index in indexes:
        if index.get("name") == "_id_":
            continue
        keys = list(dict(index["key"]).items())
        options = {key: value for key, value in index.items() if key not in ("v", "key", "ns")}
        collection.create_index(keys, **options)


def _read_metadata(bson_path: Path) -> dict[str, Any]:
    stem = bson_path.name.removesuffix(_GZ).removesuffix(_BSON)
    for name in (f"{stem}{_METADATA}", f"{stem}{_METADATA}{_GZ}"):
        path = bson_path.with_name(name)
        if path.exists():
            with _open(path, "rb") as in_file:
                loaded: dict[str, Any] = json_util.loads(in_file.read().decode())
                return loaded
    return {}


def _open(path: Path, mode: str) -> AbstractContextManager[IO[bytes]]:
    if path.name.endswith(_GZ):
        return gzip.open(path, mode)  # type: ignore[return-value]
    opened: IO[bytes] = path.open(mode)
    return opened


def _bar(factory: ProgressFactory | None, label: str, total: int, unit: str) -> Progress:
    return factory(label, total, unit) if factory is not None else _NoProgress()
