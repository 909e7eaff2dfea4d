"""Red team of ``fairgate verify``: a file added to signed evidence.

verify checked only the files the attestation lists, so a forged ``report.pdf`` (or any page)
dropped beside a blocked audit's signed evidence was printed under "verified: everything
matches" (exit 0), and a committee would read it as the signed report.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .bad_inputs_support import decision_log, log_spec, run_cli, write_yaml

UNFAIR = {"a": (200, 0.5, 0.5), "b": (200, 0.5, 0.1)}


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A blocked audit's signed evidence, and the signer's public key."""
    folder = tmp_path_factory.mktemp("signed")
    private, public = folder / "k.pem", folder / "k.pub.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(private)], check=True
    )
    subprocess.run(
        ["openssl", "pkey", "-in", str(private), "-pubout", "-out", str(public)], check=True
    )
    spec = write_yaml(folder / "spec.yaml", log_spec(decision_log(folder, groups=UNFAIR)))
    out = folder / "evidence"
    proc = run_cli("run", spec, "--no-mlflow", "--out", out, "--signing-key", private)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    return out, public


@pytest.mark.parametrize("name", ["report.pdf", "ll144_disclosure.csv", "index.html"])
def test_a_file_the_attestation_does_not_cover_fails_verification(
    signed, tmp_path, fairgate, name: str
) -> None:
    evidence, public = signed
    folder = tmp_path / "evidence"
    shutil.copytree(evidence, folder)
    code, stdout, err = fairgate("verify", folder, "--key", public)
    assert code == 0, stdout + err
    (folder / name).write_text("RELEASE: the model may be released\n", encoding="utf-8")
    code, stdout, err = fairgate("verify", folder, "--key", public)
    assert code == 1, stdout + err
    (line,) = [x for x in stdout.splitlines() if f" {name}:" in x]
    assert line.lstrip().startswith("FAILED") and "not covered by the attestation" in line
    assert "NOT VERIFIED" in stdout
