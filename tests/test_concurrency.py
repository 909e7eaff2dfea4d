"""Ten audits at once against one MLflow store, as real processes: a new sqlite store, then a
local ``mlflow server``. Every audit keeps its evidence and its one finished run, and every
run's verdict and exit code tags equal its process's exit code."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .bad_inputs_support import ROOT, decision_log, log_spec, run_cli, write_yaml
from .servers import start_tracking_server, stop

N = 10
EXPERIMENT = "concurrent"


@pytest.fixture(scope="module")
def specs(tmp_path_factory) -> list[Path]:
    """Ten specs on one experiment: even ones pass (exit 0), odd ones fail (exit 1). The
    passing ones share one data set, the failing ones another, so concurrent audits register
    the same dataset at once."""
    folder = tmp_path_factory.mktemp("specs")
    fair = decision_log(folder, name="fair.csv")
    unfair = decision_log(
        folder, name="unfair.csv", groups={"a": (200, 0.5, 0.7), "b": (200, 0.5, 0.3)}
    )
    return [
        write_yaml(
            folder / f"spec{i}.yaml",
            log_spec(unfair if i % 2 else fair, name=f"concurrent-{i}", experiment=EXPERIMENT),
        )
        for i in range(N)
    ]


def _audit_at_once(specs: list[Path], tracking_uri: str, root: Path) -> list[tuple[int, Path]]:
    def audit(i: int) -> tuple[int, Path]:
        out = root / f"out{i}"
        proc = run_cli(
            "run", specs[i], "--tracking-uri", tracking_uri, "-q", "--out", out,
            cwd=root, env={"PYTHONPATH": str(ROOT)}, timeout=600,
        )  # fmt: skip
        assert proc.returncode in (0, 1), proc.stderr
        return proc.returncode, out

    with ThreadPoolExecutor(max_workers=N) as pool:
        return list(pool.map(audit, range(N)))


def _assert_one_finished_run_each(results: list[tuple[int, Path]], tracking_uri: str) -> None:
    from mlflow.tracking import MlflowClient

    from reports import ARTIFACTS

    assert [code for code, _ in results] == [i % 2 for i in range(N)]
    docs = [json.loads((out / "results.json").read_text()) for _, out in results]
    assert len({d["run"]["audit_id"] for d in docs}) == N  # ten distinct evidence sets
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(f"fairgate/{EXPERIMENT}")
    parents = client.search_runs(
        [experiment.experiment_id], "tags.`fairgate.audit_id` != ''", max_results=100
    )
    assert len(parents) == N, [r.data.tags.get("fairgate.audit_id") for r in parents]
    by_audit = {r.data.tags["fairgate.audit_id"]: r for r in parents}
    for (code, _), doc in zip(results, docs, strict=True):
        run = by_audit[doc["run"]["audit_id"]]
        assert run.info.status == "FINISHED"
        assert run.data.tags["fairgate.exit_code"] == str(code)
        assert run.data.tags["fairgate.verdict"] == ("pass", "fail")[code]
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= set(ARTIFACTS)
        (dataset,) = run.inputs.dataset_inputs
        assert dataset.dataset.digest == str(doc["provenance"]["data_sha256"])[:36]
    children = client.search_runs(
        [experiment.experiment_id], "tags.`fairgate.family` != ''", max_results=100
    )
    assert len(children) == N and {r.info.status for r in children} == {"FINISHED"}


def test_ten_audits_at_once_on_a_new_sqlite_store(specs, tmp_path):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    _assert_one_finished_run_each(_audit_at_once(specs, uri, tmp_path), uri)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url, proc = start_tracking_server(tmp_path_factory.mktemp("server"))
    yield url
    stop(proc)


def test_ten_audits_at_once_on_a_tracking_server(specs, server, tmp_path):
    _assert_one_finished_run_each(_audit_at_once(specs, server, tmp_path), server)
