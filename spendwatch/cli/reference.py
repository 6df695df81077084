"""Every command's flags, from the parser itself: docs/cli.md's "Every command's flags" table.

``python -m spendwatch.cli.reference`` prints the table; a test checks the document against it,
so the table cannot fall behind the parser. Hidden aliases (old spellings) are left out.
"""

from __future__ import annotations

import argparse

from spendwatch.cli import build_parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its sub-parsers here; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    out = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.option_strings:
            name = max(action.option_strings, key=len)
            if isinstance(action, argparse.BooleanOptionalAction):
                name = "--[no-]" + action.option_strings[0].removeprefix("--")
            meta = " ".join(action.metavar) if isinstance(action.metavar, tuple) else action.metavar
            metavar = meta or (action.dest.upper() if action.nargs != 0 else None)
            if action.choices and not action.metavar:
                metavar = "|".join(map(str, action.choices))
            out.append(f"{name} {metavar}" if action.nargs != 0 and metavar else name)
        else:
            out.append(str(action.metavar or action.dest))
    return out


def rows() -> list[tuple[str, list[str]]]:
    """(command path, its flags) for every command and sub-command, in ``--help`` order."""
    found: list[tuple[str, list[str]]] = []

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        flags = _flags(parser)
        if flags or not _subparsers(parser):
            found.append((prefix, flags))
        for name, sub in _subparsers(parser).items():
            walk(f"{prefix} {name}", sub)

    for name, sub in _subparsers(build_parser()).items():
        walk(name, sub)
    return found


def table() -> str:
    """The Markdown table of :func:`rows`."""
    lines = ["| command | flags |", "|---|---|"]
    for command, flags in rows():
        shown = ", ".join(f"`{f}`".replace("|", "\\|") for f in flags) or "-"
        lines.append(f"| `spendwatch {command}` | {shown} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table(), end="")
