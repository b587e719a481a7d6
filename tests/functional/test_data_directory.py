"""The embedded data directory: one key-encryption key whoever starts first, and nothing in it readable by others
(docs/decisions.md#secrets)."""

from __future__ import annotations

import multiprocessing
import stat
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from certdeploy.app.accounts import create_account
from certdeploy.bootstrap.container import build_container
from certdeploy.bootstrap.settings import Settings

RACERS = 20
ROUNDS = 10


def _keys_of_fresh_starts(data: str, start: Barrier, results: Queue) -> None:
    keys = []
    for round_ in range(ROUNDS):
        start.wait()
        try:
            keys.append(Settings(data=Path(data) / str(round_)).encryption_key())
        except Exception as exc:  # reported to the test, which fails on it
            keys.append(f"error: {exc!r}")
    results.put(keys)


@pytest.mark.slow
def test_processes_racing_on_an_empty_data_directory_all_end_with_the_one_key(tmp_path: Path) -> None:
    # GIVEN 20 processes about to start on the same empty data directory (`serve` and `account create` at once),
    # ten times over
    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Barrier(RACERS), spawn.Queue()
    racers = [spawn.Process(target=_keys_of_fresh_starts, args=(str(tmp_path), start, results)) for _ in range(RACERS)]
    for racer in racers:
        racer.start()

    # WHEN they all read (or create) the key-encryption key at the same moment
    keys = [results.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)

    # THEN none crashed, and in each directory all hold the key its file keeps, the only file there
    for round_ in range(ROUNDS):
        data = tmp_path / str(round_)
        assert {started[round_] for started in keys} == {(data / "key-encryption-key").read_text().strip()}
        assert [path.name for path in data.iterdir()] == ["key-encryption-key"]


def test_a_fresh_data_directory_and_every_file_in_it_are_its_owners_only(tmp_path: Path) -> None:
    # GIVEN a data directory that does not exist yet
    data = tmp_path / "data"

    # WHEN certdeploy starts on it and writes (so SQLite makes its WAL and shared-memory files)
    container = build_container(Settings(data=data))
    create_account(container.store, "acme", quota=1)
    files = sorted(data.iterdir())
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in [data, *files]}
    container.close()

    # THEN the directory is 0700 and each file 0600
    assert {"certdeploy.sqlite", "certdeploy.sqlite-wal", "key-encryption-key", "queues.sqlite", "cloud.sqlite"} <= {
        path.name for path in files
    }
    assert modes == {name: 0o700 if name == "data" else 0o600 for name in modes}


def test_files_of_an_older_data_directory_are_narrowed_to_their_owner(tmp_path: Path) -> None:
    # GIVEN a data directory an older version left with files anyone could read
    data = tmp_path / "data"
    build_container(Settings(data=data)).close()
    for path in data.iterdir():
        path.chmod(0o644)

    # WHEN certdeploy starts on it again
    build_container(Settings(data=data)).close()

    # THEN its files are its owner's only
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in data.iterdir()} == {
        path.name: 0o600 for path in data.iterdir()
    }


def test_a_contacts_webhook_token_is_nowhere_in_the_database_files(tmp_path: Path) -> None:
    # GIVEN a contact whose DingTalk webhook carries its access token
    data = tmp_path / "data"
    container = build_container(Settings(data=data))
    account = create_account(container.store, "acme", quota=1).account.id
    token = "f00dfeedTOKENc0ffee"
    url = f"https://oapi.dingtalk.com/robot/send?access_token={token}"
    contact = container.store.contacts.add(account, name="ops", webhooks=[url])

    # WHEN the database files are read as they lie on disk (the WAL included)
    stored = b"".join(path.read_bytes() for path in data.glob("certdeploy.sqlite*"))
    kept = container.store.contacts.get(account, contact.id).webhooks
    container.close()

    # THEN the token is not there, and the owner still gets the webhook back
    assert token.encode() not in stored
    assert kept == (url,)
