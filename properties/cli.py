"""The ``convcheck`` command.

    convcheck explain --input 1,1,6,6 --out-channels 2 --kernel 3 --padding 1   # a layer's shapes, every entry on it
    convcheck check my_package.conv:conv2d [--name NAME] [PYTEST OPTIONS]      # the property suite on a callable

``check`` runs ``pytest --convcheck NAME=MODULE:ATTR`` on the installed property suite, so every pytest option works
(``-n 2``, ``--hypothesis-profile=thorough``, ``--conformance-json PATH``); its exit status is pytest's. Without a
subcommand, the arguments are the explainer's (``convcheck --input ...``).
"""

from __future__ import annotations

import argparse
import sys

import pytest

from properties import explain
from properties.plugin import SUITE

USAGE = "convcheck {explain,check} ..."


def check(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="convcheck check",
        description="Run the convcheck property suite on a conv2d callable; other options go to pytest.",
    )
    parser.add_argument("target", metavar="MODULE:ATTR", help="the callable, importable from the working directory")
    parser.add_argument("--name", help="its name in the reports (default: ATTR)")
    args, pytest_args = parser.parse_known_args(argv)
    name = args.name or args.target.rpartition(":")[2].rpartition(".")[2] or "candidate"
    return int(pytest.main([str(SUITE), f"--convcheck={name}={args.target}", "-p", "no:cacheprovider", *pytest_args]))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check"]:
        return check(argv[1:])
    if argv[:1] == ["explain"]:
        argv = argv[1:]
    elif argv[:1] in (["-h"], ["--help"]):
        print(f"usage: {USAGE}\n\n{__doc__.strip()}")
        return 0
    return explain.main(argv)


if __name__ == "__main__":
    sys.exit(main())
