"""Run a command against another checkout of spendwatch ("a tree"), e.g. the release before a change.

A tree is a directory holding the ``spendwatch`` and ``detectors`` packages. Its interpreter is its
own ``.venv/bin/python`` when it has one (an editable install of that tree), else this one with the
tree first on ``PYTHONPATH``. Commands run with the tree as working directory, so ``-m spendwatch.cli``
imports that tree's code, never this one's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Tree:
    path: Path
    label: str

    @property
    def python(self) -> str:
        venv = self.path / ".venv" / "bin" / "python"
        return str(venv) if venv.exists() else sys.executable

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.path)
        env.pop("PYTHONSTARTUP", None)
        return env

    def commit(self) -> str:
        p = subprocess.run(["git", "-C", str(self.path), "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True)
        return p.stdout.strip() or "?"


def parse_tree(spec: str) -> Tree:
    """``PATH`` or ``LABEL=PATH``."""
    label, _, path = spec.rpartition("=")
    p = Path(path).resolve()
    if not (p / "detectors").is_dir() or not (p / "spendwatch").is_dir():
        raise SystemExit(f"--tree {spec}: {p} is not a spendwatch checkout (no detectors/ or spendwatch/)")
    return Tree(p, label or p.name)


def this_tree() -> Tree:
    return Tree(HERE, "this")


def run(cmd: list[str], tree: Tree, stdin_devnull: bool = True) -> tuple[int, float, float, float, str, str]:
    """Run ``cmd`` in ``tree`` and read its own rusage (``os.wait4``): (exit status, wall s, CPU s,
    peak RSS MiB, stdout, stderr). Output goes through temporary files, so a chatty child cannot block."""
    import tempfile
    import time

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=tree.path, env=tree.env,
                                stdin=subprocess.DEVNULL if stdin_devnull else None)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        return (proc.returncode, wall, cpu, usage.ru_maxrss / 1024, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"))
