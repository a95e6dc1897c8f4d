"""Runs one docs page's examples in order, inside the page's own environment.

Started by tests/docs as ``python driver.py STEPS.json`` with the page's
interpreter and working directory. Uses only the standard library (and Norq,
for ``yaml`` configs), so it runs in any page environment. The first step that
fails prints where it is written (``docs/page.md:LINE``) and what went wrong,
and the exit status is 1.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

COMMAND_TIMEOUT = 120


class StepFailed(Exception):
    pass


def run_python(code: str, where: str, namespace: dict[str, Any]) -> None:
    # As a module of its own would run it: top-level `await` and `async with` allowed,
    # the way the asyncio REPL runs them.
    compiled = compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    result = eval(compiled, namespace)
    if inspect.iscoroutine(result):
        asyncio.run(result)


def run_shell(script: str, expected: int, where: str) -> None:
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != expected:
        raise StepFailed(
            f"{where}: exit status {done.returncode}, expected {expected}\n"
            f"$ {script}\n{done.stdout}{done.stderr}"
        )


def load_config(text: str, where: str) -> None:
    import norq

    path = Path(".docs-config.yaml")
    path.write_text(text, "utf-8")
    try:
        with norq.Norq.from_yaml(path):
            pass
    except norq.ConfigError as exc:
        raise StepFailed(f"{where}: this YAML is not a valid Norq config:\n{exc}") from None
    finally:
        path.unlink()


def main(steps_file: str) -> int:
    steps = json.loads(Path(steps_file).read_text("utf-8"))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for step in steps:
        where = step["where"]
        try:
            if step["kind"] in ("file", "append"):
                target = Path(step["path"])
                target.parent.mkdir(parents=True, exist_ok=True)
                with target.open("a" if step["kind"] == "append" else "w", encoding="utf-8") as f:
                    f.write(step["text"])
            elif step["kind"] == "python":
                run_python(step["text"], where, namespace)
            elif step["kind"] == "shell":
                run_shell(step["text"], step["exit"], where)
            elif step["kind"] == "yaml":
                load_config(step["text"], where)
        except StepFailed as failed:
            print(f"\nFAILED {failed}", file=sys.stderr)
            return 1
        except BaseException as exc:
            # The example's own frames only: the driver's say nothing about the docs.
            frames = traceback.extract_tb(exc.__traceback__)
            ours = [f for f in frames if f.filename != __file__ and "/norq/" not in f.filename]
            shown = "".join(traceback.format_list(ours[-3:] or frames[-3:]))
            error = "".join(traceback.format_exception_only(exc))
            print(f"\nFAILED {where}: the example raised\n{shown}{error}", file=sys.stderr)
            return 1
        print(f"ok {where}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
