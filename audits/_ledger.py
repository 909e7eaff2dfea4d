"""The audit ledger: one JSON line per audit, each holding the hash of the line before it.

A record's ``hash`` is the sha256 of its canonical JSON (sorted keys, no spaces) without the
``hash`` key; its ``prev`` is the previous record's ``hash`` (:data:`GENESIS` for the first).
Editing, deleting, reordering or inserting a record breaks the chain at that point, unless
every later record is rewritten too: the ledger is tamper-evident, not tamper-proof, unless
its head hash is kept elsewhere (the MLflow experiment's ``fairgate.ledger_head`` tag, or
published). Appends hold an exclusive ``fcntl`` lock on the file, so concurrent audits
append one after another and never fork the chain.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._document import finite_number
from ._provenance import utc_now
from ._status import ExitCode

__all__ = [
    "DEFAULT_LEDGER",
    "GENESIS",
    "LedgerError",
    "LedgerProblem",
    "append_record",
    "ledger_entry",
    "read_ledger",
    "record_hash",
    "superseding",
    "verify_ledger",
]

#: The ledger's default path (relative to the working directory).
DEFAULT_LEDGER = Path(".fairgate") / "ledger.jsonl"
#: The ``prev`` of the first record.
GENESIS = "0" * 64
_FIELDS = (
    "seq",
    "audit_id",
    "recorded_at",
    "spec_sha256",
    "model_sha256",
    "data_sha256",
    "verdict",
    "exit_code",
    "attestation_sha256",
    "prev",
)

_EXIT_CODES = frozenset(int(code) for code in ExitCode)


class LedgerError(RuntimeError):
    """The ledger cannot be read or appended to (a broken chain is never extended)."""


@dataclass(frozen=True)
class LedgerProblem:
    """Where the chain breaks: the line (1-based) and what is wrong there."""

    line: int
    message: str


def record_hash(record: dict[str, Any]) -> str:
    """The sha256 of a record's canonical JSON, without its ``hash`` key."""
    body = {k: v for k, v in record.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def ledger_entry(doc: dict[str, Any], *, attestation_sha256: str | None) -> dict[str, Any]:
    """The fields of an audit's record that come from its results document."""
    prov = doc.get("provenance") or {}
    return {
        "audit_id": (doc.get("run") or {}).get("audit_id"),
        "spec_sha256": prov.get("spec_sha256"),
        "model_sha256": prov.get("model_sha256"),
        "data_sha256": prov.get("data_sha256"),
        "verdict": doc.get("verdict"),
        "exit_code": doc.get("exit_code"),
        "attestation_sha256": attestation_sha256,
    }


def _integer(value: Any) -> bool:
    """An integer of JSON (``true`` equals 1 in Python, and ``1.0`` is not a count)."""
    return finite_number(value) and isinstance(value, int)


def _parse(lines: list[bytes]) -> tuple[list[dict[str, Any]], list[LedgerProblem]]:
    records: list[dict[str, Any]] = []
    problems: list[LedgerProblem] = []
    prev = GENESIS
    for number, raw in enumerate(lines, start=1):
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            problems.append(LedgerProblem(number, "is not a JSON record (edited or corrupted)"))
            prev = None
            continue
        if not isinstance(record, dict) or set(record) != {*_FIELDS, "hash"}:
            problems.append(
                LedgerProblem(number, f"must hold exactly the keys {[*_FIELDS, 'hash']}")
            )
            prev = None
            continue
        records.append(record)
        if record["hash"] != record_hash(record):
            problems.append(
                LedgerProblem(number, f"was edited: its content does not hash to {record['hash']}")
            )
        if prev is not None and record["prev"] != prev:
            problems.append(
                LedgerProblem(
                    number,
                    f"does not follow the record before it (prev {str(record['prev'])[:12]}…, "
                    f"expected {str(prev)[:12]}…): a record was deleted, inserted or reordered",
                )
            )
        if not _integer(record["seq"]) or record["seq"] != number:
            problems.append(
                LedgerProblem(number, f"has sequence number {record['seq']!r}, expected {number}")
            )
        code = record["exit_code"]
        if code is not None and (not _integer(code) or code not in _EXIT_CODES):
            problems.append(
                LedgerProblem(
                    number, f"has exit code {code!r}: must be one of {sorted(_EXIT_CODES)} or null"
                )
            )
        prev = str(record["hash"])  # a hash of another kind (null) is no "unknown"
    return records, problems


def _lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line.strip()]


def read_ledger(path: str | Path) -> tuple[list[dict[str, Any]], list[LedgerProblem]]:
    """The ledger's records and every break in its chain (none: the chain is intact).

    Raises
    ------
    LedgerError
        When the file cannot be read.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise LedgerError(f"The ledger {str(path)!r} cannot be read: {err.strerror}.") from err
    return _parse(_lines(data))


def superseding(records: list[dict[str, Any]], attestation_sha256: str) -> list[int]:
    """The lines (1-based) of records after the one of ``attestation_sha256`` that audit the
    same spec, model and data (by digest; a record naming neither model nor data matches
    none) with another exit code: the attested evidence is not the latest decision on it, so
    showing it again (a replay) must not pass for the current verdict."""
    found = [i for i, r in enumerate(records) if r.get("attestation_sha256") == attestation_sha256]
    if not found:
        return []
    own = records[found[-1]]
    key = ("spec_sha256", "model_sha256", "data_sha256")
    if own.get("model_sha256") is None and own.get("data_sha256") is None:
        return []
    return [
        i + 1
        for i, r in enumerate(records)
        if i > found[-1]
        and all(r.get(k) == own.get(k) for k in key)
        and r.get("exit_code") != own.get("exit_code")
    ]


def verify_ledger(path: str | Path) -> list[LedgerProblem]:
    """Every break in the ledger's chain (an empty list: intact)."""
    return read_ledger(path)[1]


def _broken(path: Path, problems: list[LedgerProblem]) -> LedgerError:
    first = problems[0]
    return LedgerError(
        f"The ledger {str(path)!r} is broken at line {first.line} "
        f"({first.message}): no record is added to a broken chain."
    )


def check_appendable(path: str | Path) -> None:
    """Raise now what :func:`append_record` would raise for the ledger as it is (a link, a
    file that cannot be opened, a broken chain), without creating or writing anything; an
    audit checks this before MLflow or the registry is told its verdict.

    Raises
    ------
    LedgerError
        When the ledger cannot be opened or its chain is broken.
    """
    path = Path(path)
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):  # a pipe would block: never opened
            raise LedgerError(f"The ledger {str(path)!r} cannot be opened: not a regular file.")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return  # append_record creates it (and its folder)
    except OSError as err:
        raise LedgerError(f"The ledger {str(path)!r} cannot be opened: {err.strerror}.") from err
    with os.fdopen(fd, "rb") as handle:
        problems = _parse(_lines(handle.read()))[1]
    if problems:
        raise _broken(path, problems)


def append_record(path: str | Path, entry: dict[str, Any]) -> str:
    """Append one audit's record to the ledger at ``path`` and return the new head hash.

    The file (and its folder) are created when missing. An exclusive lock is held from
    reading the head to writing the new line, so concurrent audits never fork the chain.

    Raises
    ------
    LedgerError
        When the ledger cannot be opened, is a link, its chain is already broken (a
        broken chain is never extended: verify it and repair or archive it first), or the
        record cannot be written (the file is then left as it was).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as err:
        raise LedgerError(f"The ledger {str(path)!r} cannot be opened: {err.strerror}.") from err
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a pipe or a device: reading it would block
        os.close(fd)
        raise LedgerError(f"The ledger {str(path)!r} cannot be opened: not a regular file.")
    with os.fdopen(fd, "r+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            data = handle.read()
            records, problems = _parse(_lines(data))
            if problems:
                raise _broken(path, problems)
            record = {
                **{k: entry.get(k) for k in _FIELDS},
                "seq": len(records) + 1,
                "recorded_at": utc_now(),
                "prev": records[-1]["hash"] if records else GENESIS,
            }
            record["hash"] = record_hash(record)
            line = json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"
            if data and not data.endswith(b"\n"):
                line = "\n" + line
            _write_end(handle.fileno(), line.encode("utf-8"), path=path, size=len(data))
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return record["hash"]


def _write_end(fd: int, data: bytes, *, path: Path, size: int) -> None:
    """Write ``data`` at the end of the file (``size`` bytes long), unbuffered, and sync it;
    when that fails (a full disk, a file size limit), cut the file back to ``size`` bytes so
    that no half record is left, and raise :class:`LedgerError`."""
    try:
        os.lseek(fd, 0, os.SEEK_END)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
            os.fsync(fd)
        raise LedgerError(f"The ledger {str(path)!r} cannot be written: {err.strerror}.") from err
