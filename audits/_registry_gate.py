"""The registry gate: tag the audited model version, and move an alias only on a pass.

Each audit tags the version under its spec's name (``fairgate.<spec>.verdict``, ``.exit_code``,
``.run_id``, ``.spec_sha256``, ``.model_sha256``, ``.audit_id``, ``.policies``, ``.report``),
and only when it is the newest audit of that spec on the version. Promotion happens in the
same invocation as an audit, and only when that audit passed, the version's files still hash
to what was audited, and every audit the promotion rules require (:mod:`audits._promotion`;
without rules, every spec that has audited the version) passed in its newest audit on those
very files. Every refusal leaves every alias as it was. Who or what promoted, and when, is
written as version tags. The un-namespaced ``fairgate.verdict`` (and ``.run_id``, ...) tags
of earlier releases are still written, for the last audit of any spec; they never decide a
promotion.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

from models_under_test import MODELS_URI, download_mlflow_model, file_sha256

from ._promotion import PASSING, PromotionRules, applies, not_older, policies_of, spec_tag
from ._provenance import _runner, utc_now

__all__ = [
    "ModelVersionRef",
    "PromotionRefused",
    "VersionNotFound",
    "check_promotion",
    "check_signed_files",
    "move_alias",
    "promote",
    "resolve_version",
    "tag_version",
]


class PromotionRefused(RuntimeError):  # noqa: N818 - a refusal, not an error
    """The alias was not moved; the message says why."""


class VersionNotFound(LookupError):  # noqa: N818 - reads as the message's subject
    """A ``models:/`` URI names no version in the registry searched; the message names it."""


@dataclass(frozen=True)
class ModelVersionRef:
    """A registered model version, as resolved when the audit started."""

    name: str
    version: str
    model_id: str | None


def resolve_version(uri: str, client: Any) -> ModelVersionRef | None:
    """The registered version behind ``models:/name@alias`` or ``models:/name/3``, else None.

    Raises
    ------
    VersionNotFound
        The registry of ``client`` cannot answer for the URI; the message names the tracking
        store searched (without credentials) and the registry's answer.
    """
    from reports import describe_store, scrub

    match = MODELS_URI.match(uri or "")
    if not match:
        return None
    try:
        if match["alias"]:
            found = client.get_model_version_by_alias(match["name"], match["alias"])
        else:
            found = client.get_model_version(match["name"], match["version"])
    except Exception as err:
        store = client.tracking_uri
        raise VersionNotFound(
            f"{uri} was not found in the model registry of the tracking store "
            f"{describe_store(store)}: {scrub(str(err), store)}"
        ) from err
    model_id = getattr(found, "model_id", None)
    source = str(getattr(found, "source", "") or "")
    if not model_id and source.startswith("models:/m-"):
        model_id = source.removeprefix("models:/")  # MLflow 3 logged model behind the version
    return ModelVersionRef(found.name, str(found.version), model_id)


def tag_version(
    client: Any,
    ref: ModelVersionRef,
    document: dict[str, Any],
    logged: dict[str, str] | None,
    *,
    exit_code: int | None = None,
) -> None:
    """Write the audit's verdict, run, spec hash and report location on the version.

    With ``exit_code`` (the process's) different from the document's, the verdict written is
    ``error``, as on the audit's run: no tag claims more than the exit code.
    """
    same = exit_code is None or int(exit_code) == int(document["exit_code"])
    tags = {
        "fairgate.verdict": document["verdict"] if same else "error",
        "fairgate.exit_code": str(document["exit_code"] if exit_code is None else exit_code),
        "fairgate.spec_sha256": document["provenance"]["spec_sha256"],
        "fairgate.model_sha256": str(document["provenance"]["model_sha256"]),
        "fairgate.audit_id": document["run"]["audit_id"],
    }
    if logged:
        tags["fairgate.run_id"] = logged["run_id"]
        tags["fairgate.report"] = logged["report_uri"]
    spec = document["spec"]["name"]
    current = client.get_model_version(ref.name, ref.version).tags or {}
    if not_older(tags["fairgate.audit_id"], current.get(spec_tag(spec, "audit_id"))):
        # only the newest audit of a spec speaks for it on this version
        legacy = {k.removeprefix("fairgate."): v for k, v in tags.items()}
        legacy["policies"] = ";".join(policies_of(document))[:5000]
        tags.update({spec_tag(spec, key): value for key, value in legacy.items()})
    for key, value in tags.items():
        client.set_model_version_tag(ref.name, ref.version, key, value)


def version_sha256(ref: ModelVersionRef, tracking_uri: str) -> str:
    """Hash of the version's files as the registry serves them now (their copy is removed)."""
    with tempfile.TemporaryDirectory(prefix="fairgate-", ignore_cleanup_errors=True) as scratch:
        uri = f"models:/{ref.name}/{ref.version}"
        return file_sha256(download_mlflow_model(uri, tracking_uri, into=scratch))


def check_promotion(
    client: Any,
    ref: ModelVersionRef,
    alias: str,
    document: dict[str, Any],
    *,
    tracking_uri: str,
    rules: PromotionRules | None = None,
) -> None:
    """Raise :class:`PromotionRefused` unless the audit passed, the version's files still
    hash to what was audited, and every required audit passed on those files; change
    nothing."""
    if document["verdict"] not in PASSING:
        raise PromotionRefused(
            f"{ref.name} version {ref.version} was not promoted to {alias!r}: the audit's "
            f"verdict is {document['verdict']!r}."
        )
    check_signed_files(ref, alias, document, tracking_uri=tracking_uri)
    audited = document["provenance"]["model_sha256"]
    now = version_sha256(ref, tracking_uri)
    if now != audited:
        raise PromotionRefused(
            f"{ref.name} version {ref.version} was not promoted to {alias!r}: its files changed "
            f"after the audit (audited sha256 {audited}, now {now})."
        )
    problems = required_audit_problems(client, ref, alias, document, digest=now, rules=rules)
    if problems:
        where = f"the promotion rules of {rules.source}" if rules else "every audit of it"
        raise PromotionRefused(
            f"{ref.name} version {ref.version} was not promoted to {alias!r}: {where} must "
            f"pass on this version's files (sha256 {now}): {'; '.join(problems)}."
        )


def required_audit_problems(
    client: Any,
    ref: ModelVersionRef,
    alias: str,
    document: dict[str, Any],
    *,
    digest: str,
    rules: PromotionRules | None,
) -> list[str]:
    """Why the audits ``alias`` needs do not all vouch for the version (empty: they do).

    Each required spec is judged by its newest audit: the version's tags under the spec's
    name, or this audit (``document``) when it is the newer one. Without ``rules`` (or when
    they name no audit for ``alias``: only other aliases have rules), every spec with tags on
    the version is required, and this audit's spec.
    """
    tags = client.get_model_version(ref.name, ref.version).tags or {}
    this = document["spec"]["name"]
    if rules is not None and rules.required(alias):
        required = list(rules.required(alias))
    else:  # no rules, or rules that name no audit for this alias: every audit is required
        from ._promotion import RequiredAudit

        head, tail = "fairgate.", ".verdict"  # fairgate.<spec>.verdict (names may hold dots)
        specs = {
            k[len(head) : -len(tail)]
            for k in tags
            if k.startswith(head) and k.endswith(tail) and len(k) > len(head + tail)
        } | {this}
        required = [RequiredAudit(spec=s) for s in sorted(specs)]
    problems = []
    for need in required:
        audit_id = tags.get(spec_tag(need.spec, "audit_id"))
        if need.spec == this and not_older(document["run"]["audit_id"], audit_id):
            seen = {
                "verdict": document["verdict"],
                "exit_code": str(document["exit_code"]),
                "model_sha256": str(document["provenance"]["model_sha256"]),
                "policies": ";".join(policies_of(document)),
                "audit_id": document["run"]["audit_id"],
            }
        else:
            seen = {
                k: tags.get(spec_tag(need.spec, k))
                for k in ("verdict", "exit_code", "model_sha256", "policies", "audit_id")
            }
        name = need.describe()
        if seen["verdict"] is None:
            problems.append(f"{name} has not audited this version")
        elif seen["verdict"] not in PASSING or seen["exit_code"] != "0":
            problems.append(f"{name}'s newest audit ({seen['audit_id']}) is {seen['verdict']!r}")
        elif seen["model_sha256"] != digest:
            problems.append(
                f"{name}'s newest audit ({seen['audit_id']}) audited other files (sha256 "
                f"{seen['model_sha256']})"
            )
        elif need.policy and not applies(need.policy, (seen["policies"] or "").split(";")):
            problems.append(
                f"{name}'s newest audit ({seen['audit_id']}) did not apply the policy "
                f"{need.policy} (it applied: {seen['policies'] or 'none named'})"
            )
    return problems


def check_signed_files(
    ref: ModelVersionRef, alias: str, document: dict[str, Any], *, tracking_uri: str
) -> None:
    """Raise :class:`PromotionRefused` when the audit was of a signed model and the version's
    files, as the registry serves them now, differ from the signed, audited ones.

    Each file is hashed again the way its signature hashed it and compared with the digests
    the results document recorded (``model.signature.files``); a changed, missing or added
    file refuses. An audit whose spec named a signature that did not verify refuses too.
    """
    from ._model_signature import file_digests

    signed = (document.get("model") or {}).get("signature")
    if not signed:
        return
    head = f"{ref.name} version {ref.version} was not promoted to {alias!r}"
    if not signed.get("verified"):
        raise PromotionRefused(f"{head}: its signature was not verified by the audit.")
    with tempfile.TemporaryDirectory(prefix="fairgate-", ignore_cleanup_errors=True) as scratch:
        uri = f"models:/{ref.name}/{ref.version}"
        folder = download_mlflow_model(uri, tracking_uri, into=scratch)
        now = file_digests(folder, signed.get("serialization") or {})
    recorded = {f["name"]: f["digest"] for f in signed.get("files") or []}
    differ = sorted(n for n in recorded.keys() | now.keys() if recorded.get(n) != now.get(n))
    if differ:
        raise PromotionRefused(
            f"{head}: its files differ from the signed, audited ones ({', '.join(differ[:5])})."
        )


def move_alias(client: Any, ref: ModelVersionRef, alias: str, document: dict[str, Any]) -> str:
    """Move ``alias`` to the version and tag who, when and which audit; return a sentence.

    Call only after :func:`check_promotion` and after the audit's run carries its verdict.
    """
    client.set_registered_model_alias(ref.name, alias, ref.version)
    for key, value in {
        "fairgate.promoted_to": alias,
        "fairgate.promoted_by": _runner(),
        "fairgate.promoted_at": utc_now(),
        "fairgate.promoted_by_audit": document["run"]["audit_id"],
    }.items():
        client.set_model_version_tag(ref.name, ref.version, key, value)
    return f"{ref.name} version {ref.version} promoted to {alias!r}."


def promote(
    client: Any,
    ref: ModelVersionRef,
    alias: str,
    document: dict[str, Any],
    *,
    tracking_uri: str,
    rules: PromotionRules | None = None,
) -> str:
    """Move ``alias`` to the audited version if, and only if, the audit passed, the version
    is unchanged and every required audit passed on it (:func:`check_promotion`); return a
    sentence saying what was done, or raise :class:`PromotionRefused`."""
    check_promotion(client, ref, alias, document, tracking_uri=tracking_uri, rules=rules)
    return move_alias(client, ref, alias, document)
