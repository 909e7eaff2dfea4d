"""Talk to an MLflow tracking store safely when many audits share it.

Three things go wrong when audits run at the same time against one store: a new sqlite
database is created (and migrated) by several processes at once, sqlite answers "database is
locked", and MLflow's check-then-insert of a dataset row races into a UNIQUE conflict. This
module serialises the creation of a sqlite store with a file lock, retries the calls that fail
for such transient reasons (a bounded number of times, with exponential backoff and seeded
jitter), and names a store in messages without its credentials.
"""

from __future__ import annotations

import contextlib
import fcntl
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_RETRY",
    "RetryPolicy",
    "describe_store",
    "is_transient",
    "retrying",
    "scrub",
    "tracking_client",
]

T = TypeVar("T")

#: Messages of failures that a later attempt of the same call can get past: sqlite busy or
#: locked, a unique conflict of two concurrent inserts of the same row (MLflow's dataset
#: registration), and the equivalents of other SQL back ends.
_TRANSIENT = re.compile(
    r"database is locked|database table is locked|UNIQUE constraint failed|"
    r"Duplicate entry|duplicate key value|deadlock|could not serialize access",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how patiently, a transient store failure is retried.

    Attempt ``k`` (from 1) that fails transiently is followed by a wait of
    ``min(cap_s, base_s * 2 ** (k - 1))`` seconds times a jitter factor drawn uniformly from
    ``[0.5, 1.5)``, so that concurrent audits do not retry in step.

    Parameters
    ----------
    attempts : int
        Calls made at most, the first one included.
    base_s : float
        Wait after the first failure, before jitter.
    cap_s : float
        Longest wait between two attempts, before jitter.
    """

    attempts: int = 8
    base_s: float = 0.05
    cap_s: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base_s < 0 or self.cap_s < self.base_s:
            raise ValueError(
                "The 'attempts', 'base_s' and 'cap_s' parameters of RetryPolicy must satisfy "
                f"attempts >= 1 and 0 <= base_s <= cap_s. Got {self.attempts}, {self.base_s} "
                f"and {self.cap_s} instead."
            )

    def wait(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 1)."""
        return min(self.cap_s, self.base_s * 2 ** (attempt - 1)) * (0.5 + rng.random())


#: The retries of every store call fairgate makes.
DEFAULT_RETRY = RetryPolicy()


def is_transient(err: BaseException) -> bool:
    """Whether ``err`` (or an exception it was raised from) is a transient store failure."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, Exception) and _TRANSIENT.search(str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


def retrying(
    call: Callable[..., T],
    *args: Any,
    rng: random.Random,
    policy: RetryPolicy = DEFAULT_RETRY,
    **kwargs: Any,
) -> T:
    """``call(*args, **kwargs)``, retried while it fails transiently (see :class:`RetryPolicy`).

    Only :class:`Exception` is retried; anything else (an interrupt) propagates at once, as does
    the last failure when the attempts are used up. Every call retried here must be safe to
    repeat: a failed sqlite transaction is rolled back, and MLflow's tag, param, metric and
    input writes are idempotent for the same values.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return call(*args, **kwargs)
        except Exception as err:
            if attempt == policy.attempts or not is_transient(err):
                raise
            time.sleep(policy.wait(attempt, rng))
    raise AssertionError("unreachable")  # pragma: no cover


def _sqlite_path(tracking_uri: str) -> Path | None:
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = tracking_uri.removeprefix("sqlite:///")
    return None if path in ("", ":memory:") else Path(path)


@contextlib.contextmanager
def _creation_lock(tracking_uri: str) -> Iterator[None]:
    """Hold an exclusive lock while a sqlite store is opened (and created or migrated).

    MLflow creates the tables of a new sqlite database when a store is first opened, without
    a lock; two processes doing it at once corrupt the schema ("table ... already exists").
    """
    db = _sqlite_path(tracking_uri)
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.parent / f"{db.name}.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tracking_client(tracking_uri: str) -> Any:
    """An :class:`mlflow.tracking.MlflowClient` for ``tracking_uri`` (registry on the same
    store), with a new sqlite store created under an inter-process lock."""
    from mlflow.tracking import MlflowClient

    with _creation_lock(tracking_uri):
        return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def describe_store(tracking_uri: str) -> str:
    """``tracking_uri`` as it may be shown: user information, query values and fragment as
    ``***`` (:func:`models_under_test.public_uri`, the one rule for every URL shown)."""
    from models_under_test import public_uri

    return public_uri(tracking_uri)


def scrub(text: str, tracking_uri: str) -> str:
    """``text`` with the credentials of ``tracking_uri`` (its ``user:password@`` part, the
    password, the query's values and the fragment) replaced by ``***``
    (:func:`models_under_test.scrub`)."""
    from models_under_test import scrub as scrub_url

    return scrub_url(text, tracking_uri)
