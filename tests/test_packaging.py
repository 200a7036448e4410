"""The CI lock: `requirements-ci.lock` pins what pyproject.toml declares, and torch as
constraints.txt does, so that CI installs the same versions on every fresh machine."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-ci.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def pins(path: Path) -> dict[str, str]:
    """``{normalised name: version}`` of the ``name==version`` lines of a requirements file."""
    found: dict[str, str] = {}
    for number, raw in enumerate(path.read_text("utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        assert match, f"{path.name}:{number}: not an exact `name==version` pin: {raw!r}"
        name = canonicalize_name(match[1])
        assert name not in found, f"{path.name}:{number}: {name} is pinned twice"
        found[name] = match[2]
    return found


def declared() -> list[Requirement]:
    """The requirements of ``[project] dependencies`` and the ``test`` extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    return [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]
    ]


def test_the_lock_pins_every_declared_dependency_within_its_range() -> None:
    locked = pins(LOCK)
    for req in declared():
        name = canonicalize_name(req.name)
        assert name in locked, f"{req.name} is not pinned in {LOCK.name}: refresh the lock"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{LOCK.name} pins {req.name}=={locked[name]}, outside {req}: refresh the lock"
        )


def test_the_lock_pins_torch_as_constraints_txt_does() -> None:
    text = (ROOT / "constraints.txt").read_text("utf-8")
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    constraints = [Requirement(line) for line in lines if line]
    torch = [c for c in constraints if canonicalize_name(c.name) == "torch"]
    assert len(torch) == 1 and str(torch[0].specifier).startswith("=="), torch
    locked = pins(LOCK)["torch"]
    # `torch==2.13.0` admits 2.13.0+cpu (the CPU build's local label) and no other version
    assert torch[0].specifier.contains(locked, prereleases=True), (locked, str(torch[0]))


def test_ci_runs_the_test_command_the_readme_gives() -> None:
    readme = (ROOT / "README.md").read_text("utf-8").splitlines()
    ci = (ROOT / ".ci" / "run").read_text("utf-8").splitlines()
    command = [line for line in readme if "python -m pytest -n auto" in line]
    assert command == [f'pip install -c {LOCK.name} -e ".[test]" && python -m pytest -n auto']
    assert command[0] in ci


def test_the_lock_holds_everything_installed_from_it() -> None:
    # Transitive completeness, checked where the environment was installed from the lock (as
    # in CI): every distribution that netspec[test] needs here, however indirectly, is pinned.
    locked = pins(LOCK)
    needed: dict[str, str] = {}  # name: installed version
    seen: set[tuple[str, str]] = set()  # (name, extra) already followed
    todo = [(req, "") for req in declared()]  # (requirement, the extra of the one that named it)
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue  # not installed here; the declared ones are checked above
        needed[name] = dist.version
        for wanted in {""} | set(req.extras):
            if (name, wanted) not in seen:
                seen.add((name, wanted))
                todo.extend((Requirement(sub), wanted) for sub in dist.requires or [])
    drifted = {n: v for n, v in needed.items() if n in locked and locked[n] != v}
    if drifted:
        pytest.skip(f"this environment was not installed from {LOCK.name}: {drifted}")
    missing = sorted(set(needed) - set(locked))
    assert not missing, f"installed from {LOCK.name} but not pinned in it: {missing}"
