"""Every command's flags and ``--help``, from the parser itself.

``python -m spendwatch.cli.reference`` prints docs/cli.md's "Every command's flags" table;
``python -m spendwatch.cli.reference --help-blocks`` prints the README's "Every command's --help"
blocks. Tests check both documents against the parser, so neither can fall behind it. Hidden
aliases (old spellings) are left out of the table (``--help`` hides them too).
"""

from __future__ import annotations

import argparse
import os
import sys

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
    """(command path, its flags) for every command and sub-command, in ``--help`` order (a parent
    command only when it has flags of its own)."""
    return [(command, flags) for command, parser in _all_parsers()
            if (flags := _flags(parser)) or not _subparsers(parser)]


def table() -> str:
    """The Markdown table of :func:`rows`."""
    lines = ["| command | flags |", "|---|---|"]
    for command, flags in rows():
        shown = ", ".join(f"`{f}`".replace("|", "\\|") for f in flags) or "-"
        lines.append(f"| `spendwatch {command}` | {shown} |")
    return "\n".join(lines) + "\n"


def _all_parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """(command path, parser) for every command and sub-command, parents first, in ``--help`` order."""
    found: list[tuple[str, argparse.ArgumentParser]] = []

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        found.append((prefix, parser))
        for name, sub in _subparsers(parser).items():
            walk(f"{prefix} {name}", sub)

    for name, sub in _subparsers(build_parser()).items():
        walk(name, sub)
    return found


def help_blocks(width: int = 100) -> str:
    """Every command's ``--help`` at ``width`` columns, as collapsed Markdown blocks (the README's)."""
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)  # argparse wraps to the terminal; the document must not depend on it
    try:
        out = []
        for command, parser in _all_parsers():
            text = parser.format_help().rstrip()
            out.append(f"<details><summary><code>spendwatch {command} --help</code></summary>\n\n"
                       f"```text\n{text}\n```\n\n</details>\n")
        return "\n".join(out)
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


if __name__ == "__main__":
    print(help_blocks() if "--help-blocks" in sys.argv[1:] else table(), end="")
