"""Log an audit to MLflow: params from the spec, metrics, tags, and the report files.

What the run holds (params, metrics, tags, dataset input) is made in
:mod:`reports._mlflow_content`; this module creates, ends and tags the run.

MLflow is imported here only, when logging, so that the CLI starts fast. A client is built
for the tracking URI given; no global MLflow state is changed.

A run never claims more than the process decided: it is created without a verdict, its
params, metrics, inputs, artifacts and child runs are logged, and the verdict and exit code
are tagged only as the last step (:meth:`AuditRun.finish`). A failure or an interrupt before
that ends the run ``FAILED`` (an :class:`Exception`) or ``KILLED`` (any other
:class:`BaseException`, e.g. the CLI's SIGTERM handler) with ``fairgate.verdict=error``.
"""

from __future__ import annotations

import contextlib
import os
import random
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._gaming import value_hidden
from ._mlflow_content import _dataset_input, _family, _metrics, _params, _tags, metric_key
from ._mlflow_store import (
    DEFAULT_RETRY,
    RetryPolicy,
    describe_store,
    retrying,
    scrub,
    tracking_client,
)
from ._suppress import withheld_values

__all__ = [
    "DEFAULT_STORE",
    "AuditRun",
    "audit_run",
    "default_tracking_uri",
    "log_audit",
    "metric_key",
]

#: Folder of the working directory holding the default tracking database and artifacts.
DEFAULT_STORE = ".fairgate"


def default_tracking_uri(base: str | Path = ".") -> str:
    """An embedded sqlite tracking store in ``<base>/.fairgate/mlflow.db``.

    Only the URI: the folder is created when something is first logged there, so an audit run
    with ``--no-mlflow`` leaves no ``.fairgate`` folder behind.
    """
    store = (Path(base) / DEFAULT_STORE).resolve()
    return f"sqlite:///{store / 'mlflow.db'}"


_VERDICT = "fairgate.verdict"
_EXIT = "fairgate.exit_code"
_NOTE = "fairgate.note"
_RUN_NAME = "mlflow.runName"


class _Calls:
    """Calls on an MLflow client, retried on transient store failures."""

    def __init__(self, client: Any, rng: random.Random, policy: RetryPolicy) -> None:
        self.client, self._rng, self._policy = client, rng, policy

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``client.<method>(*args, **kwargs)``, retried on transient store failures."""
        return retrying(
            getattr(self.client, method), *args, rng=self._rng, policy=self._policy, **kwargs
        )


class AuditRun(_Calls):
    """The MLflow run of one audit, between its logging and its verdict.

    Made by :func:`audit_run`; call :meth:`finish` with the process's exit code once nothing
    can change it any more.

    Attributes
    ----------
    run_id, experiment_id, artifact_uri : str
        Where the run is.
    status : str or None
        ``None`` while the run has no verdict; then ``FINISHED``, ``FAILED`` or ``KILLED``.
    """

    def __init__(
        self,
        client: Any,
        document: dict[str, Any],
        *,
        experiment_id: str,
        run: Any,
        rng: random.Random,
        policy: RetryPolicy,
    ) -> None:
        super().__init__(client, rng, policy)
        self.document = document
        self.experiment_id = experiment_id
        self.run_id = run.info.run_id
        self.artifact_uri = run.info.artifact_uri
        self.status: str | None = None
        self.children: list[str] = []
        self._tagged_exit = False

    @property
    def logged(self) -> dict[str, str]:
        """``run_id``, ``experiment_id``, ``artifact_uri`` (also as ``uri``), ``report_uri``."""
        return {
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "artifact_uri": self.artifact_uri,
            "uri": self.artifact_uri,
            "report_uri": f"{self.artifact_uri}/report.html",
        }

    def _name(self, verdict: str) -> str:
        spec, run = self.document["spec"], self.document["run"]
        return f"{spec['name']} · {verdict} · {run['started_at']}"

    def finish(self, *, exit_code: int, note: str | None = None) -> None:
        """End the run ``FINISHED`` and, as the very last step, tag its verdict.

        Parameters
        ----------
        exit_code : int
            The code the process exits with. The tagged verdict is the document's when the
            code is the document's, else ``error`` (e.g. a refused promotion turns a passing
            audit into exit 2): the tags never claim more than the exit code.
        note : str, optional
            Why the exit code differs from the document's, tagged as ``fairgate.note``.
        """
        exit_code = int(exit_code)
        same = exit_code == int(self.document["exit_code"])
        verdict = self.document["verdict"] if same else "error"
        self.call("set_terminated", self.run_id, status="FINISHED")
        self.status = "FINISHED"
        from mlflow.entities import RunTag

        tags = {_VERDICT: verdict, _EXIT: str(exit_code), _RUN_NAME: self._name(verdict)}
        if note:
            tags[_NOTE] = note[:5000]
        self.call("log_batch", self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        self._tagged_exit = True

    def abort(self, err: BaseException, *, exit_code: int | None = None) -> bool:
        """End the run (and any unfinished child run) ``FAILED``, or ``KILLED`` for an
        interrupt, tagged ``fairgate.verdict=error``; raises no :class:`Exception`.

        ``exit_code`` is tagged when known; otherwise an exit code tagged earlier is removed.
        The error is tagged as ``fairgate.note``, without the tracking URI's credentials.
        Returns whether the ``error`` verdict was recorded (``False``: MLflow could not be
        reached, and the run still says what it said).
        """
        status = "FAILED" if isinstance(err, Exception) else "KILLED"
        note = scrub(f"{type(err).__name__}: {err}", str(self.client.tracking_uri))[:5000]
        with contextlib.suppress(Exception):
            for child in self.children:
                if self.client.get_run(child).info.status == "RUNNING":
                    self.call("set_terminated", child, status=status)
        told = False
        with contextlib.suppress(Exception):
            from mlflow.entities import RunTag

            tags = {_VERDICT: "error", _RUN_NAME: self._name("error"), _NOTE: note}
            if exit_code is not None:
                tags[_EXIT] = str(int(exit_code))
            self.call("log_batch", self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
            if exit_code is None and self._tagged_exit:
                self.call("delete_tag", self.run_id, _EXIT)
            told = True
        with contextlib.suppress(Exception):
            self.call("set_terminated", self.run_id, status=status)
            self.status = status
        return told


def _experiment_id(calls: _Calls, name: str, tracking_uri: str) -> str:
    """The id of experiment ``name``, created if missing (also when a concurrent audit
    creates it at the same moment)."""
    location = None
    if tracking_uri.startswith("sqlite:///"):
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        location = (db.parent / "artifacts").resolve().as_uri()
    for _ in range(3):
        found = calls.call("get_experiment_by_name", name)
        if found is not None:
            return found.experiment_id
        try:
            return calls.call("create_experiment", name, artifact_location=location)
        except Exception as err:  # created meanwhile by a concurrent audit?
            failure = err
    raise RuntimeError(f"The experiment {name!r} can be neither found nor created.") from failure


@contextlib.contextmanager
def audit_run(
    document: dict[str, Any],
    files: dict[str, Path],
    *,
    tracking_uri: str,
    experiment: str | None = None,
    model_id: str | None = None,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> Iterator[AuditRun]:
    """Log one audit as one MLflow run (with a child run per check family), without its
    verdict; the body of the ``with`` block must call :meth:`AuditRun.finish`.

    Anything raised while logging or in the body ends the run through :meth:`AuditRun.abort`
    (``FAILED``, or ``KILLED`` for a :class:`BaseException` such as an interrupt) and is raised
    again. A body that returns without finishing the run also aborts it.

    Parameters
    ----------
    document : dict
        The results document.
    files : dict of str to Path
        The rendered files and charts, logged as artifacts of the parent run.
    tracking_uri : str
        Where to log. With a local ``sqlite:`` store the artifacts go next to the database.
    experiment : str, optional
        Experiment name; defaults to ``fairgate/<spec experiment or name>``.
    model_id : str, optional
        The MLflow logged model audited, linked as the run's model input (lineage).
    policy : RetryPolicy, optional
        Retries of transient store failures (concurrent audits on one store). The jitter is
        seeded from the audit id and the process id: concurrent audits draw different waits.

    Yields
    ------
    AuditRun
    """
    from mlflow.entities import LoggedModelInput, Metric, Param

    rng = random.Random(zlib.crc32(f"{document['run']['audit_id']}:{os.getpid()}".encode()))
    spec = document["spec"]
    name = experiment or f"fairgate/{spec['content'].get('experiment') or spec['name']}"
    try:
        client = tracking_client(tracking_uri)
    except Exception as err:
        raise RuntimeError(
            f"The MLflow tracking store {describe_store(tracking_uri)} cannot be opened: "
            f"{scrub(str(err), tracking_uri)}"
        ) from err
    calls = _Calls(client, rng, policy)
    experiment_id = _experiment_id(calls, name, tracking_uri)
    created = calls.call(
        "create_run",
        experiment_id,
        run_name=f"{spec['name']} · logging · {document['run']['started_at']}",
        tags=_tags(document),
    )
    run = AuditRun(
        client, document, experiment_id=experiment_id, run=created, rng=rng, policy=policy
    )
    try:
        params = [Param(k, v) for k, v in _params(document).items()]
        metrics = [Metric(k, float(v), 0, 0) for k, v in _metrics(document).items()]
        for i in range(0, len(params), 100):
            run.call("log_batch", run.run_id, params=params[i : i + 100])
        for i in range(0, len(metrics), 1000):
            run.call("log_batch", run.run_id, metrics=metrics[i : i + 1000])
        run.call(
            "log_inputs",  # retried: two audits registering one dataset race into a conflict
            run.run_id,
            datasets=[_dataset_input(document)],
            models=[LoggedModelInput(model_id)] if model_id else None,
        )
        for path in files.values():
            run.call("log_artifact", run.run_id, str(path))
        _log_families(run, document)
        yield run
        if run.status is None:
            raise RuntimeError("The audit's MLflow run was left without a verdict.")
    except BaseException as err:
        run.abort(err)
        raise


def log_audit(
    document: dict[str, Any],
    files: dict[str, Path],
    *,
    tracking_uri: str,
    experiment: str | None = None,
    model_id: str | None = None,
) -> dict[str, str]:
    """Log one audit as one finished MLflow run, tagged with the document's verdict.

    :func:`audit_run` with :meth:`AuditRun.finish` at the document's exit code; see there for
    the parameters. An exception or interrupt while logging ends the run ``FAILED`` or
    ``KILLED`` with ``fairgate.verdict=error``, and is raised again.

    Returns
    -------
    dict
        ``run_id``, ``experiment_id``, ``artifact_uri`` and ``report_uri``.
    """
    with audit_run(
        document, files, tracking_uri=tracking_uri, experiment=experiment, model_id=model_id
    ) as run:
        run.finish(exit_code=document["exit_code"])
    return run.logged


def _log_families(run: AuditRun, document: dict[str, Any]) -> None:
    """One child run per check family (fairness, explainability), for navigation."""
    from mlflow.entities import Metric

    families: dict[str, list[dict[str, Any]]] = {}
    withheld = withheld_values(document)  # as in the parent run's metrics
    for check in document["checks"]:
        families.setdefault(_family(check["type"]), []).append(check)
    for family, checks in families.items():
        statuses = sorted({c["status"] for c in checks})
        child = run.call(
            "create_run",
            run.experiment_id,
            run_name=f"{document['spec']['name']} · {family}",
            tags={
                "mlflow.parentRunId": run.run_id,
                "fairgate.family": family,
                "fairgate.statuses": ",".join(statuses),
            },
        ).info.run_id
        run.children.append(child)
        metrics = [
            Metric(metric_key("check", c["name"]), float(c["value"]), 0, 0)
            for c in checks
            if c["value"] is not None and not value_hidden(c) and c["name"] not in withheld
        ]
        if metrics:
            run.call("log_batch", child, metrics=metrics)
        run.call("set_terminated", child, status="FINISHED")
