"""Great Expectations, imported off the audit's critical path.

Importing ``great_expectations`` costs seconds (measured: 5.3 s of CPU on this project's
machine), a third of it in a dependency GE never uses for its column expectations:
``jsonschema`` compiles the ``rfc3987_syntax`` IRI grammar with lark at import time when that
package is installed, only to check the ``iri`` string format of JSON schemas. fairgate
imports GE with that optional checker left out (``jsonschema`` then simply does not check
``iri`` formats, as when the package is absent), and starts the import in a background thread
when the audit starts (:func:`start_import`), so it overlaps reading the data and loading the
model; :func:`great_expectations` waits for it when validation needs it.

Great Expectations also fingerprints every in-memory batch under 1 GB (an md5 of
``pandas.util.hash_pandas_object`` of the whole frame, twice per validation: 14 % of a
10-million-row audit's wall time, profiled). The fingerprint is only a batch marker that fairgate
never reads (its provenance holds the data file's own sha256), so the import sets the engine's
``HASH_THRESHOLD`` to 0: no batch is fingerprinted; expectations and results are unchanged.

The optional checker is left out only when neither ``jsonschema`` nor ``rfc3987_syntax`` is
imported yet (otherwise the process already paid for it and nothing changes).

GE also imports PySpark at its own import when PySpark is installed (``fairgate[spark]``), for
its Spark datasource. That costs about a second that a local audit does not need, so the
validation worker of :mod:`audits._gx_worker` (and the CLI, when it validates in its own
process because no worker could start) imports GE with PySpark hidden
(``start_import(without_spark=True)``): GE then treats PySpark as absent for the rest of that
process. A Python session (tests, notebooks) keeps GE's Spark
datasource: :func:`start_import` hides nothing by default.

GE imports ``scipy.stats`` and ``altair`` at its own import, for its distribution
expectations and their charts only (about 1 s of CPU). The validation worker has them
*deferred* (``start_import(defer=...)``): imported through :class:`importlib.util.LazyLoader`,
their code runs at their first attribute access, that is when such an expectation runs, and at
once (:func:`load_deferred`) before the worker validates a spec's named expectations.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
import threading
import warnings
from types import ModuleType

__all__ = ["finish_import", "great_expectations", "load_deferred", "start_import"]

_lock = threading.Lock()
_thread: threading.Thread | None = None
_failure: list[BaseException] = []


class _Deferred(importlib.abc.MetaPathFinder):
    """Imports the named modules with :class:`importlib.util.LazyLoader`: each module object
    exists at once, and its code runs at its first attribute access."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = set(names)
        self.deferred: list[str] = []

    def find_spec(self, name: str, path: object = None, target: object = None):
        if name not in self._names:
            return None
        self._names.discard(name)  # the other finders find it (not this one again)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = importlib.util.LazyLoader(spec.loader)
        self.deferred.append(name)
        return spec


_deferred: list[str] = []


def _import(hide: tuple[str, ...] = (), defer: tuple[str, ...] = ()) -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no network calls from the audit
    if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # ImportError on import
        try:
            import jsonschema  # noqa: F401  # its format checkers, without the IRI grammar
        finally:
            del sys.modules["rfc3987_syntax"]
    # GE imports pyspark when it is installed (fairgate[spark]); pyspark then warns on every
    # import that it does not "fully support" pandas 3: noise in every audit's output.
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )
    hidden = [name for name in hide if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # ImportError on import
    finder = _Deferred(tuple(n for n in defer if n not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        importlib.import_module("great_expectations")
        importlib.import_module("great_expectations.data_context.types.base")
        engine = importlib.import_module(
            "great_expectations.execution_engine.pandas_execution_engine"
        )
        engine.HASH_THRESHOLD = 0  # no md5 fingerprint of the frame (see the module docstring)
    except BaseException as err:  # re-raised in the caller's thread
        _failure.append(err)
    finally:
        sys.meta_path.remove(finder)
        _deferred.extend(finder.deferred)
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]


def start_import(
    *, without_spark: bool = False, without: tuple[str, ...] = (), defer: tuple[str, ...] = ()
) -> None:
    """Start importing Great Expectations in a background (daemon) thread, once.

    Parameters
    ----------
    without_spark : bool, default False
        Hide PySpark from GE's import (a process that audits on the local engine only); GE's
        Spark datasource is then unavailable in this process.
    without : tuple of str, default ()
        Further optional dependencies of GE to hide (GE then treats them as not installed),
        e.g. ``sqlalchemy`` in the validation worker, which validates pandas frames only.
    defer : tuple of str, default ()
        Modules GE imports but uses only in some expectations, to import lazily (their code
        runs at first use; :func:`load_deferred` runs it at once). Only for a process whose
        other threads do not import them meanwhile (the validation worker):
        :class:`importlib.util.LazyLoader` is not thread-safe on Python 3.11.
    """
    global _thread
    hide = (("pyspark",) if without_spark else ()) + tuple(without)
    with _lock:
        if _thread is None and "great_expectations" not in sys.modules:
            _thread = threading.Thread(
                target=_import, args=(hide, defer), name="fairgate-gx-import", daemon=True
            )
            _thread.start()


def finish_import() -> None:
    """Wait for a background import to end (an audit that stopped before validating must not
    leave the process while a thread is still importing: interpreter shutdown would stop it
    midway)."""
    thread = _thread
    if thread is not None:
        thread.join()


def great_expectations() -> ModuleType:
    """The ``great_expectations`` module, waiting for a background import when one runs."""
    start_import()
    thread = _thread
    if thread is not None:
        thread.join()
    if _failure:
        raise _failure[0]
    if "great_expectations" not in sys.modules:  # imported by someone else meanwhile
        _import()
        if _failure:
            raise _failure[0]
    return sys.modules["great_expectations"]


def load_deferred() -> list[str]:
    """Run the code of every module :func:`start_import` deferred (before work that may use
    them from several threads); return their names."""
    for name in _deferred:
        module = sys.modules.get(name)
        if module is not None:
            getattr(module, "__file__", None)  # a lazy module's first attribute access runs it
    return list(_deferred)
