"""backup_db and restore_db: a round trip of every collection, in mongodump's format.

Runs on the embedded database, and on a real MongoDB when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import gzip
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import bson
import pytest
from bson import Decimal128, Int64, ObjectId, json_util

from scripts import backup_db, restore_db
from shared import clock
from shared.db import names
from shared.db.client import get_database
from shared.services.bootstrap import bootstrap
from tests.conftest import TEST_DATABASE_URL, reload_settings

ADMIN_PASSWORD = "an admin passphrase for tests 77"


def app_collections() -> list[str]:
    """Every collection the app names."""
    return sorted(
        value
        for key, value in vars(names).items()
        if key.isupper() and isinstance(value, str) and not key.startswith("_")
    )


def seed(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[dict[str, Any]]]:
    """Data in every collection (with awkward BSON types); returns it as read back."""
    reload_settings(
        monkeypatch,
        FIRST_SUPERUSER_EMAIL="root@example.com",
        FIRST_SUPERUSER_PASSWORD=ADMIN_PASSWORD,
    )
    bootstrap(containers=False)  # migrations and the first admin, as a deploy leaves them
    database = get_database()
    now = clock.now()
    for name in app_collections():
        database[name].insert_many(
            [
                {
                    "_id": ObjectId(),
                    "kind": f"{name}-{index}",
                    "at": now - timedelta(days=index),
                    "expires_at": now + timedelta(days=30),
                    "big": Int64(2**40 + index),
                    "money": Decimal128("12.50"),
                    "blob": b"\x00\x01\xff" * 10,
                    "nested": {"list": [1, "two", None, {"three": 3.0}], "flag": True},
                    "token_hash": uuid.uuid4().hex,
                    "email": f"{name}-{index}@example.com",
                }
                for index in range(3)
            ]
        )
    return snapshot()


def snapshot() -> dict[str, list[dict[str, Any]]]:
    database = get_database()
    return {
        name: sorted(database[name].find({}), key=lambda doc: str(doc["_id"]))
        for name in app_collections()
    }


def index_specs(name: str) -> dict[str, tuple[Any, ...]]:
    return {
        index["name"]: (
            dict(index["key"]),
            bool(index.get("unique")),
            index.get("expireAfterSeconds"),
        )
        for index in get_database()[name].list_indexes()
    }


def switch_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the app at a fresh, empty database (the old one is dropped on a real server)."""
    database = get_database()
    if not TEST_DATABASE_URL.startswith("mongomock://"):
        database.client.drop_database(database.name)
    reload_settings(monkeypatch, DATABASE_NAME=f"rt_restore_{uuid.uuid4().hex[:12]}")


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_backup_then_restore_round_trips_every_collection(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    compress: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = seed(monkeypatch)
    indexes = {name: index_specs(name) for name in app_collections()}
    assert all(before.values()), "every collection holds data before the backup"
    out = tmp_path / "backup"
    assert backup_db.main(["--out", str(out), "--quiet", *(["--gzip"] if compress else [])]) == 0
    database_name = get_database().name
    switch_database(monkeypatch)

    assert restore_db.main([str(out), "--drop", "--quiet"]) == 0

    assert snapshot() == before
    assert {name: index_specs(name) for name in app_collections()} == indexes
    printed = capsys.readouterr().out
    assert f"backup of {database_name} written to {out / database_name}" in printed
    assert "users: 4 documents restored" in printed  # three seeded and the first admin


def test_the_dump_is_mongodump_format_read_back_with_bson(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = seed(monkeypatch)
    assert backup_db.main(["--out", str(tmp_path), "--quiet", "--batch-size", "2"]) == 0
    folder = tmp_path / get_database().name

    for name in app_collections():
        with (folder / f"{name}.bson").open("rb") as dumped:
            documents = bson.decode_all(dumped.read(), bson.CodecOptions(tz_aware=True))
        assert sorted(documents, key=lambda doc: str(doc["_id"])) == before[name]
        metadata = json_util.loads((folder / f"{name}.metadata.json").read_text())
        assert metadata["collectionName"] == name
        assert metadata["indexes"][0]["key"] == {"_id": 1}
    users = json_util.loads((folder / "users.metadata.json").read_text())
    email_index = next(index for index in users["indexes"] if index["key"] == {"email": 1})
    assert email_index["unique"] is True
    raw_metadata = (folder / "rate_limits.metadata.json").read_text()
    assert '"expireAfterSeconds": {"$numberInt": "0"}' in raw_metadata  # canonical Extended JSON


def test_gzip_files_are_gzip_streams(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    before = seed(monkeypatch)
    assert backup_db.main(["--out", str(tmp_path), "--gzip", "--quiet"]) == 0
    folder = tmp_path / get_database().name
    with gzip.open(folder / "users.bson.gz", "rb") as dumped:
        users = bson.decode_all(dumped.read(), bson.CodecOptions(tz_aware=True))
    assert sorted(users, key=lambda doc: str(doc["_id"])) == before["users"]
    with gzip.open(folder / "users.metadata.json.gz", "rt") as metadata:
        assert json_util.loads(metadata.read())["collectionName"] == "users"


def test_restore_without_drop_keeps_existing_documents_and_counts_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(monkeypatch)
    assert backup_db.main(["--out", str(tmp_path), "--quiet", "--collection", "audit_log"]) == 0
    database = get_database()
    database["audit_log"].delete_one({"kind": "audit_log-0"})

    assert restore_db.main([str(tmp_path), "--quiet"]) == 0

    assert database["audit_log"].count_documents({}) == 4  # three seeded, one by bootstrap
    assert "audit_log: 1 documents restored, 3 already present" in capsys.readouterr().out


def test_restore_refuses_a_production_database_without_yes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(monkeypatch)
    assert backup_db.main(["--out", str(tmp_path), "--quiet"]) == 0
    reload_settings(
        monkeypatch,
        ENVIRONMENT="production",
        SECRET_KEY="a-production-grade-secret-0123456789abcdef",
        DATA_ENCRYPTION_KEY="another-production-key-0123456789abcdef",
        DATABASE_URL="mongodb://127.0.0.1:9/",  # never reached: refused first
    )
    assert restore_db.main([str(tmp_path), "--drop", "--quiet"]) == 2
    assert "refusing to restore into the production database" in capsys.readouterr().err


def test_restore_of_a_folder_without_a_dump_fails_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert restore_db.main([str(tmp_path), "--quiet"]) == 1
    assert "holds no dump" in capsys.readouterr().err


@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("mongomock://"),
    reason="the local host saves only the embedded database",
)
def test_local_data_saved_before_a_new_migration_is_migrated_when_loaded(
    tmp_path: Path,
) -> None:
    from devhost.local_services import load_embedded_database, save_embedded_database
    from shared.db.migrations import MIGRATIONS, applied_versions

    database = get_database()
    newest = max(m.version for m in MIGRATIONS)
    database[names.MIGRATIONS].delete_one({"_id": newest})  # saved by an older checkout
    save_embedded_database(tmp_path / "localdb")
    database[names.MIGRATIONS].delete_many({})

    line = load_embedded_database(tmp_path / "localdb", fresh=False)

    assert line is not None
    assert f"migrated [{newest}]" in line
    assert applied_versions(database) == {m.version for m in MIGRATIONS}
