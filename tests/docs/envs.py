"""One virtual environment per set of requirements a docs page names.

A page runs with Norq and only what its ``pip install`` lines (and ``docs:
requires`` markers) name, so an example that needs an extra the page never
mentions fails. Norq and the plugins of this repository are installed from
this checkout as wheels built once per source state; everything else comes
through pip as configured on the machine, with pip's cache. Environments are
kept under ``.venv/docs-envs/``, keyed by their requirements and the projects'
declared dependencies: when only the sources changed, a later run reinstalls
just the local wheels.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".venv" / "docs-envs"
PLUGINS = ROOT / "plugins"
# A requirement naming this repository's Norq or one of its plugins, extras allowed.
# Examples compile what they import; compiling every installed file up front
# would only slow the build down.
QUIET = ("--quiet", "--no-compile")
_LOCAL = re.compile(r"^(?P<name>norq(?:-[a-z0-9-]+)?)(?P<extras>\[[a-z0-9,_-]+\])?$")


def local_projects() -> dict[str, Path]:
    """Distribution name -> source folder, for Norq and every plugin in plugins/."""
    projects = {"norq": ROOT}
    for pyproject in sorted(PLUGINS.glob("*/pyproject.toml")):
        projects[pyproject.parent.name] = pyproject.parent
    return projects


def normalised(requirements: Iterable[str]) -> tuple[str, ...]:
    """The requirement set of a page: always Norq itself, each name once, sorted.

    A path into plugins/ (``pip install -e plugins/norq-smtp``) names that plugin.
    """
    found = {"norq", *(_named(r) for r in requirements if r.strip())}
    if any(r.startswith("norq[") for r in found):
        found.discard("norq")
    return tuple(sorted(found))


def sources_digest(*, packages: bool = True) -> str:
    """Changes whenever a file that goes into a local wheel changes (with ``packages``),
    or, without, whenever a project's declared dependencies may have."""
    digest = hashlib.sha256()
    for folder in local_projects().values():
        package_files = [folder / "pyproject.toml"]
        for package in folder.glob("norq*/") if packages else ():
            package_files += sorted(p for p in package.rglob("*") if p.is_file())
        for path in package_files:
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _pulled_in(requirements: tuple[str, ...]) -> set[str]:
    """The local projects that the requested extras of Norq depend on, extras of extras too."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"][
        "optional-dependencies"
    ]
    wanted = [
        extra
        for requirement in requirements
        if (local := _LOCAL.match(requirement)) is not None and local["name"] == "norq"
        for extra in (local["extras"] or "[]")[1:-1].split(",")
        if extra
    ]
    found: set[str] = set()
    seen: set[str] = set()
    while wanted:
        extra = wanted.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for dependency in extras.get(extra, []):
            local = _LOCAL.match(re.split(r"[<>=!~; ]", dependency, maxsplit=1)[0])
            if local is None:
                continue
            if local["name"] == "norq":
                wanted += (local["extras"] or "[]")[1:-1].split(",")
            elif local["name"] in local_projects():
                found.add(local["name"])
    return found


def _named(requirement: str) -> str:
    requirement = requirement.strip().lower()
    if requirement.startswith("plugins/"):
        return requirement.removeprefix("plugins/").rstrip("/")
    return requirement


class Environments:
    """Builds (or finds) the environment of each requirement set, once per session."""

    def __init__(self, cache: Path = CACHE) -> None:
        self.cache = cache
        self.digest = sources_digest()
        self.dependencies = sources_digest(packages=False)
        self._wheels: dict[str, Path] | None = None

    def python(self, requirements: tuple[str, ...]) -> Path:
        key = hashlib.sha256("\n".join([self.dependencies, *requirements]).encode()).hexdigest()
        home = self.cache / key[:16]
        python = home / "bin" / "python"
        built = home / ".sources"
        if built.exists() and built.read_text("utf-8") == self.digest:
            return python
        if built.exists():
            # Same dependencies, newer sources: only this checkout's wheels change.
            local = [self.wheels()[name] for name in self._local_names(requirements)]
            self._pip("--python", str(python), "install", *QUIET, "--no-deps",
                      "--force-reinstall", *map(str, local))  # fmt: skip
        else:
            shutil.rmtree(home, ignore_errors=True)
            subprocess.run(
                [sys.executable, "-m", "venv", "--without-pip", str(home)],
                check=True,
                capture_output=True,
            )
            self._pip("--python", str(python), "install", *QUIET, *self._specs(requirements))
            (home / "requirements.txt").write_text("\n".join(requirements) + "\n", "utf-8")
        built.write_text(self.digest, "utf-8")
        return python

    def _local_names(self, requirements: tuple[str, ...]) -> list[str]:
        names = {"norq", *_pulled_in(requirements)}
        for requirement in requirements:
            local = _LOCAL.match(requirement)
            if local is not None and local["name"] in self.wheels():
                names.add(local["name"])
        return sorted(names)

    def _specs(self, requirements: tuple[str, ...]) -> list[str]:
        """pip arguments: local projects as direct references to their wheels, also
        those an extra of Norq pulls in (``norq[sandbox]`` is ``norq-sandbox``)."""
        wheels = self.wheels()
        specs = []
        for requirement in requirements:
            local = _LOCAL.match(requirement)
            if local is not None and local["name"] in wheels:
                wheel = wheels[local["name"]].as_uri()
                specs.append(f"{local['name']}{local['extras'] or ''} @ {wheel}")
            else:
                specs.append(requirement)
        named = {spec.split(" @ ")[0].split("[")[0] for spec in specs}
        for name in sorted(_pulled_in(requirements) - named):
            specs.append(f"{name} @ {wheels[name].as_uri()}")
        return specs

    def wheels(self) -> dict[str, Path]:
        """One wheel per local project, built from this checkout (no dependencies)."""
        if self._wheels is None:
            folder = self._wheel_dir()
            if not (folder / ".complete").exists():
                for stale in self.cache.glob("wheels-*"):
                    shutil.rmtree(stale, ignore_errors=True)
                folder.mkdir(parents=True)
                projects = [str(path) for path in local_projects().values()]
                self._pip("wheel", "--no-deps", "--wheel-dir", str(folder), *projects)
                (folder / ".complete").touch()
            self._wheels = {
                wheel.name.split("-")[0].replace("_", "-"): wheel
                for wheel in sorted(folder.glob("*.whl"))
            }
        return self._wheels

    def _wheel_dir(self) -> Path:
        return self.cache / f"wheels-{self.digest}"

    def _pip(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
