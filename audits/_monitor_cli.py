"""The circuit breaker's commands: ``fairgate monitor``, ``fairgate breaker``, ``fairgate guard``.

Exit codes: ``monitor`` 0 the breaker ends closed, 5 it is open or half-open (people decide),
2 it could not decide (an unreadable log, no window with enough reviewed decisions, evidence
that could not be written or logged), 4 bad usage. ``breaker open|reset`` 0 recorded, 2 not
(fully) recorded, 4 bad usage; ``breaker status`` 0 closed, 5 open or half-open, 2 no state.
``guard`` 0 logged, 2 not, 4 bad usage.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from ._monitor_evidence import write_evidence
from ._spec import load_spec
from ._status import ExitCode

__all__ = ["breaker", "guard", "monitor"]

_SYSTEM = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_STATE_DIR = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".fairgate") / "breaker",
    show_default=True,
    help="Folder of the breaker state files.",
)


@click.command("monitor")
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--log", "log", required=True, help="Decision log: CSV/Parquet file, folder or glob.")
@_STATE_DIR
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for monitoring.json, report.html, transitions.csv "
    "[default: out/<spec name>/<monitor id>/].",
)
@click.option("--tracking-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow tracking URI.")
@click.option("--no-mlflow", is_flag=True, help="Do not log to MLflow, nor tag the model.")
@click.option("--quiet", "-q", is_flag=True, help="Only the state line.")
def monitor(
    spec_path: Path,
    log: str,
    state_dir: Path,
    out_dir: Path | None,
    tracking_uri: str | None,
    no_mlflow: bool,
    quiet: bool,
) -> ExitCode:
    """Replay the circuit breaker of SPEC_PATH over a decision LOG in service.

    Exits 0 when the breaker ends closed, 5 while it is open or half-open, 2 when it cannot
    decide, 3 when a policy prohibits the declared use, 4 on bad usage.
    """
    from models_under_test import scrub
    from reports import check_out_folder, default_tracking_uri, set_aside

    from ._document import new_audit_id
    from ._monitor import (
        ManualLogError,
        MonitorDataError,
        manual_events,
        policy_of,
        state_lock,
        state_of,
        state_path,
        write_state,
    )
    from ._monitor import monitor as replay

    spec = load_spec(spec_path)
    policy_of(spec)  # the spec must have a monitor block
    from ._monitor_checks import prohibitions

    refused = prohibitions(spec)
    if refused:  # never a closed breaker (a serving model) for a prohibited use
        for reason in refused:
            click.echo(f"error: {reason}", err=True)
        _open_state(state_dir, spec.name, "prohibited use: " + "; ".join(refused))
        code = int(ExitCode.PROHIBITED_USE)
        click.echo(f"breaker: open, not replayed (exit {code}); the declared use is prohibited")
        return ExitCode.PROHIBITED_USE
    monitor_id = new_audit_id(f"{spec.name}-monitor")
    out = out_dir or Path("out") / spec.name / monitor_id
    check_out_folder(out)
    tracking = None if no_mlflow else (tracking_uri or default_tracking_uri())

    def run() -> Any:
        return replay(
            spec, spec_path=spec_path, log=log, state_dir=state_dir, monitor_id=monitor_id
        )

    problems: list[str] = []
    try:
        outcome = run()
        # The state the guard acts on comes first. A person who acted while the log was
        # replayed (breaker open/reset) is not overwritten: the replay runs again with it.
        try:
            with state_lock(state_dir, spec.name):
                if len(manual_events(state_dir, spec.name)) != outcome.manual_seen:
                    outcome = run()
                state = state_of(outcome.document, tracking_uri=tracking)
                write_state(state_path(state_dir, spec.name), state)
        except OSError as err:
            problems.append(f"the state file could not be written: {err}")
    except ManualLogError as err:  # a person's unreadable action may have stopped the model
        click.echo(f"error: could not decide: {err}", err=True)
        _open_state(state_dir, spec.name, f"people's actions cannot be read: {err}")
        click.echo(f"breaker: open, not replayed (exit {int(ExitCode.UNDECIDED)})")
        return ExitCode.UNDECIDED
    except MonitorDataError as err:
        click.echo(f"error: could not decide: {err}", err=True)
        click.echo(f"breaker: unchanged (exit {int(ExitCode.UNDECIDED)})")
        return ExitCode.UNDECIDED
    doc = outcome.document
    model_uri = str(doc.get("model_uri") or "")
    if tracking and model_uri.startswith("models:/"):
        from ._monitor_record import tag_breaker

        try:
            tagged = tag_breaker(
                model_uri,
                doc["state"],
                tracking_uri=tracking,
                extra={"fairgate.breaker.reason": doc["reason"][:5000]},
            )
            if tagged and not quiet:
                click.echo(f"tagged {tagged} fairgate.breaker={doc['state']}", err=True)
        except Exception as err:
            said = scrub(f"{type(err).__name__}: {err}", tracking)
            problems.append(f"the registry tag could not be set: {said}")
    if problems and doc["exit_code"] == int(ExitCode.OK):  # what the guard reads is not it
        doc["exit_code"] = int(ExitCode.UNDECIDED)
        doc["message"] = f"{doc['message']}; not recorded, so no release: {'; '.join(problems)}"
    moved = set_aside(out)
    if moved is not None:
        click.echo(f"earlier evidence in {out} moved to {moved}", err=True)
    problems += write_evidence(doc, out, tracking=tracking, experiment=spec.experiment or spec.name)
    code = ExitCode(doc["exit_code"])
    if not quiet:
        for ev in doc["events"]:
            who = f" by {ev['by']}: {ev['reason']}" if ev.get("by") else ""
            group = f" ({ev['group']})" if ev.get("group") and not who else ""
            if ev.get("check"):
                group = f" ({ev['check']}, least favoured {ev.get('group')})"
            elif (ev.get("pooled") or 1) > 1:
                group = f" ({ev['group']}, over the last {ev['pooled']} windows)"
            click.echo(
                f"  window {ev['label']}: {ev['before']} -> {ev['after']}, {ev['cause']}"
                f"{group}{who}",
                err=True,
            )
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    click.echo(f"breaker: {doc['state']} (exit {int(code)}); {doc['message']}; evidence in {out}")
    return code


def _open_state(state_dir: Path, system: str, reason: str) -> None:
    """Write the state file open: an earlier "closed" must not keep a guard serving."""
    from ._monitor import state_lock, state_path, write_state
    from ._provenance import utc_now

    opened = {"system": system, "state": "open", "forced": True, "reason": reason}
    try:
        with state_lock(state_dir, system):
            write_state(state_path(state_dir, system), {**opened, "updated_at": utc_now()})
    except OSError as err:
        click.echo(f"error: the state file could not be written: {err}", err=True)


@click.group("breaker")
def breaker() -> None:
    """Force a system's circuit breaker open, reset it, or show its state."""


def _system(system: str) -> str:
    if not _SYSTEM.match(system):
        raise click.BadParameter(
            f"must be a spec name (lower case, digits, . _ -). Got {system!r} instead.",
            param_hint="SYSTEM",
        )
    return system


def _text(value: str, what: str) -> str:
    if not value or not value.strip():
        raise click.BadParameter(f"must name {what}. Got {value!r} instead.", param_hint=what)
    return value.strip()


def _act(action: str, system: str, by: str, reason: str, state_dir: Path, tracking: str | None):
    from metrics import ManualAction
    from models_under_test import MASK, scrub

    from ._monitor import record_manual

    system = _system(system)
    by = _text(by, "--by")
    reason = _text(reason, "--reason")
    kind = ManualAction.FORCE_OPEN if action == "open" else ManualAction.RESET
    try:
        _, state = record_manual(state_dir, system, action=kind, by=by, reason=reason)
    except (OSError, ValueError) as err:
        click.echo(f"error: the action could not be recorded: {err}", err=True)
        return ExitCode.UNDECIDED
    code = ExitCode.OK
    model_uri = str(state.get("model_uri") or "")
    stored = state.get("tracking_uri")
    if model_uri.startswith("models:/") and not tracking and stored and MASK in stored:
        click.echo(
            f"error: the registry tag of {model_uri} was not set: the state file names the "
            f"tracking store {stored} without its credentials (they are never written); "
            "give --tracking-uri or MLFLOW_TRACKING_URI",
            err=True,
        )
        code = ExitCode.UNDECIDED
    elif model_uri.startswith("models:/") and (tracking or stored):
        from ._monitor_record import tag_breaker

        tracking = tracking or stored
        try:
            tag_breaker(
                model_uri,
                state["state"],
                tracking_uri=tracking,
                extra={"fairgate.breaker.reason": state["reason"][:5000]},
            )
        except Exception as err:
            said = scrub(str(err), tracking)
            click.echo(f"error: the registry tag of {model_uri} was not set: {said}", err=True)
            code = ExitCode.UNDECIDED
    click.echo(f"breaker of {system}: {state['state']} ({state['reason']}) (exit {int(code)})")
    return code


_BY = click.option("--by", "by", required=True, help="Who acts (a named person).")
_REASON = click.option("--reason", "reason", required=True, help="Why, for the record.")
_TRACKING = click.option("--tracking-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow URI.")


@breaker.command("open")
@click.argument("system")
@_BY
@_REASON
@_STATE_DIR
@_TRACKING
def breaker_open(
    system: str, by: str, reason: str, state_dir: Path, tracking_uri: str | None
) -> ExitCode:
    """Force SYSTEM's breaker open: people decide until someone resets it."""
    return _act("open", system, by, reason, state_dir, tracking_uri)


@breaker.command("reset")
@click.argument("system")
@_BY
@_REASON
@_STATE_DIR
@_TRACKING
def breaker_reset(
    system: str, by: str, reason: str, state_dir: Path, tracking_uri: str | None
) -> ExitCode:
    """Reset SYSTEM's breaker to closed: the model decides again."""
    return _act("reset", system, by, reason, state_dir, tracking_uri)


@breaker.command("status")
@click.argument("system")
@_STATE_DIR
def breaker_status(system: str, state_dir: Path) -> ExitCode:
    """Show SYSTEM's breaker state: exit 0 closed, 5 open or half-open, 2 unknown."""
    from ._monitor import read_state, state_path

    try:
        state = read_state(state_path(state_dir, _system(system)))
    except (OSError, ValueError, RecursionError) as err:
        click.echo(f"error: the state file cannot be read: {err}", err=True)
        return ExitCode.UNDECIDED
    if state is None:
        click.echo(f"error: no breaker state for {system} in {state_dir}", err=True)
        return ExitCode.UNDECIDED
    if not isinstance(state, dict) or not isinstance(state.get("state"), str):
        click.echo("error: the state file cannot be read: it names no breaker state", err=True)
        return ExitCode.UNDECIDED
    click.echo(f"breaker of {system}: {state['state']} ({state.get('reason', '')})")
    return ExitCode.OK if state["state"] == "closed" else ExitCode.BREAKER_OPEN


@click.command("guard")
@click.argument("model_uri")
@click.option(
    "--state",
    "state",
    required=True,
    help="Where the guard reads the breaker: a state file path, an http(s) URL serving it, "
    "or models:/name/version (its fairgate.breaker tag).",
)
@click.option(
    "--refresh-s",
    type=click.FloatRange(min=0.0, max=300.0),
    default=5.0,
    show_default=True,
    help="Read the state at most this often (seconds).",
)
@click.option(
    "--max-age-h",
    type=click.FloatRange(min=0.0),
    default=24.0,
    show_default=True,
    help="Hand decisions to people when the breaker state was last written longer ago than "
    "this (the monitor may have stopped); 0: no limit.",
)
@click.option("--register", "register", metavar="NAME", help="Register the guard under NAME.")
@_TRACKING
def guard(
    model_uri: str,
    state: str,
    refresh_s: float,
    max_age_h: float,
    register: str | None,
    tracking_uri: str | None,
) -> ExitCode:
    """Log an MLflow pyfunc guarding MODEL_URI with the circuit breaker.

    Served with ``mlflow models serve``, it answers with the model's decision while the
    breaker is closed and ``manual_review`` (with the reason) while it is open or half-open.
    """
    from models_under_test import scrub
    from reports import default_tracking_uri

    from ._monitor_record import log_guard
    from ._spec_models import uri_without_secrets

    try:  # both are written into the guard model, which MLflow stores and serves
        uri_without_secrets(model_uri, name="MODEL_URI")
        if state.startswith(("http://", "https://")):
            uri_without_secrets(state, name="--state")
    except ValueError as err:
        click.echo(f"error: {err}", err=True)
        return ExitCode.USAGE_ERROR
    if not (state.startswith(("models:/", "http://", "https://")) or Path(state).is_absolute()):
        state = str(Path(state).resolve())  # the server may run elsewhere: an absolute path
    tracking = tracking_uri or default_tracking_uri()
    try:
        uri = log_guard(
            model_uri,
            state=state,
            refresh_s=refresh_s,
            max_age_s=max_age_h * 3600.0,
            register=register,
            tracking_uri=tracking,
        )
    except Exception as err:
        said = scrub(f"{type(err).__name__}: {err}", tracking)
        click.echo(f"error: the guard could not be logged: {said}", err=True)
        return ExitCode.UNDECIDED
    click.echo(f"guard logged: {uri} (serve with: mlflow models serve -m {uri})")
    return ExitCode.OK
