"""A provider's contract and its pack, checked against each other and merged: the contract is the
one source of truth for what a contracted call answers.

Rules (each mistake is one `file:line: yaml.path: problem` line):

- Every pack request an operation names (`check`, `step`, and each `also` entry) exists, makes the
  operation's call (its method, and a path that fits the operation's template), and is named by no
  other operation: no dead contract entries.
- A contracted request states no `expect.schema` of its own (the contract's `response` is used), and
  any `expect.status` it states is the contract's `status`; a request whose contract says the
  answer has no body (`content_type: null`) asserts nothing about a body.
- Coverage: every request the integration makes as a user would is a contract operation. That is
  each single-request check, and each step of a sequence, in category auth, retrieval, crud or
  latency, sent with the configured credential (`auth: valid`, the default) and expecting a 2xx
  (or no stated status). Not contract operations, and so exempt: a request with `auth: invalid` or
  `auth: none`, one that expects a non-2xx status, every check in category `error`, and a check or
  step that says why in `contract_exempt` (an operation may not name it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config.errors import ConfigIssue, YamlPath, line_for
from monitor.config.models import AuthMode, CheckSpec, Expect, Pack, RequestSpec
from monitor.config.yamlsrc import load_yaml
from monitor.model import Category

if TYPE_CHECKING:
    from monitor.contracts.model import Contract, ContractOperation

# Categories whose successful, authenticated requests are calls the integration makes.
COVERED_CATEGORIES = frozenset({Category.AUTH, Category.RETRIEVAL, Category.CRUD, Category.LATENCY})


@dataclass(frozen=True, slots=True)
class PackCall:
    """One request of a pack: a single-request check, or one step of a sequence."""

    check: str
    step: str | None
    where: YamlPath  # checks.<check> or checks.<check>.steps[i]
    request: RequestSpec
    expect: Expect
    auth: AuthMode
    category: Category
    exempt: str | None  # contract_exempt: why this request is no contract operation

    @property
    def label(self) -> str:
        return f"check {self.check!r}" + (f" step {self.step!r}" if self.step else "")


def pack_calls(pack: Pack) -> Iterator[PackCall]:
    for name, spec in pack.checks.items():
        if spec.http is not None:
            yield PackCall(
                name,
                None,
                ("checks", name),
                spec.http,
                spec.expect,
                spec.auth,
                spec.category,
                spec.contract_exempt,
            )
        for i, step in enumerate(spec.steps or []):
            where = ("checks", name, "steps", i)
            exempt = step.contract_exempt or spec.contract_exempt
            yield PackCall(
                name, step.name, where, step.request, step.expect, step.auth, spec.category, exempt
            )


def needs_contract(call: PackCall) -> bool:
    """A request the integration makes as a user would: see the module's coverage rule."""
    return (
        call.category in COVERED_CATEGORIES
        and call.auth is AuthMode.VALID
        and call.exempt is None
        and all(200 <= s < 300 for s in call.expect.status or ())
    )


def contract_issues(
    contract: Contract, contract_file: Path, pack: Pack, pack_file: Path
) -> list[ConfigIssue]:
    """Every way the contract and the provider's pack disagree (rules in the module docstring)."""
    cfile, pfile = str(contract_file), str(pack_file)
    out: list[ConfigIssue] = []
    calls = {(c.check, c.step): c for c in pack_calls(pack)}
    named: dict[tuple[str, str | None], str] = {}
    for op_name, op in contract.operations.items():
        for index, (check_name, step) in enumerate(op.users()):
            at: YamlPath = ("operations", op_name, *(("also", index - 1) if index else ()))
            problem = _dead(pack, check_name, step)
            if problem is not None:
                key, msg = problem
                out.append(ConfigIssue(cfile, (*at, key) if key else at, msg))
                continue
            call = calls[(check_name, step)]
            if (check_name, step) in named:
                msg = f"{call.label} is already named by operation {named[(check_name, step)]!r}"
                out.append(ConfigIssue(cfile, (*at, "check"), msg))
                continue
            named[(check_name, step)] = op_name
            if call.exempt is not None:
                msg = f"{call.label} is contract_exempt ({call.exempt}): an operation cannot name it"
                out.append(ConfigIssue(cfile, (*at, "check"), msg))
                continue
            if not _makes(call.request, op):
                msg = (
                    f"{call.label} calls {call.request.method.value} {call.request.path}, "
                    f"not this operation's {op.method.value} {op.path}"
                )
                out.append(ConfigIssue(cfile, (*at, "check"), msg))
                continue
            out += _agrees(call, op_name, op, cfile, pfile)
    for user, call in calls.items():
        if user not in named and needs_contract(call):
            msg = (
                f"{call.request.method.value} {call.request.path} is in no operation of {cfile}: "
                "name it in one (check/step, or also), or exempt it (auth: invalid or none, a non-2xx status)"
            )
            out.append(ConfigIssue(pfile, call.where, msg))
    return _with_lines(out)


def _dead(pack: Pack, check_name: str, step: str | None) -> tuple[str, str] | None:
    check = pack.checks.get(check_name)
    if check is None:
        have = ", ".join(sorted(pack.checks))
        return "check", f"check {check_name!r} is not in pack {pack.provider!r} (have: {have})"
    steps = [s.name for s in check.steps or []]
    if step is None and check.http is None:
        return "", f"check {check_name!r} is a sequence: name its step (one of: {', '.join(steps)})"
    if step is not None and step not in steps:
        return "step", f"check {check_name!r} has no step {step!r} (have: {', '.join(steps) or 'none'})"
    return None


def _makes(request: RequestSpec, op: ContractOperation) -> bool:
    """The request has the operation's method, and its path (variables filled) ends in the template
    (the spec's paths are relative to its server: Xero's `/Contacts` is `/api.xro/2.0/Contacts`)."""
    called = re.sub(r"\{\{[^{}]*\}\}", "x", request.path.split("?", 1)[0])
    parts = re.split(r"(\{[^}/]+\})", op.path)
    template = "".join("[^/]+" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in parts)
    return request.method == op.method and re.search(template + "$", called) is not None


def _agrees(call: PackCall, op_name: str, op: ContractOperation, cfile: str, pfile: str) -> list[ConfigIssue]:
    out = []
    pointer = f"{cfile}#/operations/{op_name}"
    expect = call.expect
    if expect.schema_ is not None:
        if op.response is not None:
            msg = f"duplicates the contract ({pointer}/response); remove it: the contract holds the schema"
        else:
            msg = f"the contract holds this call's schema ({pointer} states no response): move it there"
        out.append(ConfigIssue(pfile, (*call.where, "expect", "schema"), msg))
    if expect.status is not None and list(expect.status) != [op.status]:
        said = " or ".join(str(s) for s in expect.status)
        msg = f"expects {said}, but the contract ({pointer}/status) says {op.status}"
        out.append(ConfigIssue(pfile, (*call.where, "expect", "status"), msg))
    if op.content_type is None and expect.body:
        msg = f"asserts on a body, but the contract ({pointer}/content_type) says the answer has none"
        out.append(ConfigIssue(pfile, (*call.where, "expect", "body"), msg))
    for header, cond in expect.headers.items():
        if header.lower() != "content-type" or op.content_type is None:
            continue
        media = op.content_type.lower()
        if (isinstance(cond.equals, str) and cond.equals.split(";")[0].strip().lower() != media) or (
            cond.contains is not None and cond.contains.lower() not in media
        ):
            msg = f"does not fit the contract's content type {op.content_type} ({pointer}/content_type)"
            out.append(ConfigIssue(pfile, (*call.where, "expect", "headers", header), msg))
    return out


def _with_lines(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """Fill in line numbers (the files are read again only when something is wrong)."""
    lines: dict[str, dict[YamlPath, int]] = {}
    out = []
    for issue in issues:
        if issue.file not in lines:
            try:
                lines[issue.file] = load_yaml(Path(issue.file))[1]
            except (OSError, ValueError):  # a line number is a nicety: the issue stands without it
                lines[issue.file] = {}
        line = line_for(lines[issue.file], issue.path)
        out.append(ConfigIssue(issue.file, issue.path, issue.message, line))
    return out


def contracted_pack(pack: Pack, contract: Contract) -> Pack:
    """The pack as checks run it: each contracted request is judged by the contract's response
    schema, and by its status where the pack states none. Call only when `contract_issues` is empty."""
    expects: dict[tuple[str, str | None], Expect] = {}
    for op in contract.operations.values():
        for check_name, step in op.users():
            spec = pack.checks[check_name]
            steps = spec.steps or []
            current = spec.expect if step is None else next(s.expect for s in steps if s.name == step)
            update: dict[str, Any] = {"status": current.status or [op.status]}
            if op.response is not None:
                update["schema_"] = op.response
            expects[(check_name, step)] = current.model_copy(update=update)
    checks: dict[str, CheckSpec] = {}
    for name, spec in pack.checks.items():
        if spec.http is not None:
            expect = expects.get((name, None))
            checks[name] = spec if expect is None else spec.model_copy(update={"expect": expect})
        else:
            steps = [
                s.model_copy(update={"expect": expects[(name, s.name)]}) if (name, s.name) in expects else s
                for s in spec.steps or []
            ]
            checks[name] = spec.model_copy(update={"steps": steps})
    return pack.model_copy(update={"checks": checks})
