"""The ``convcheck`` command.

    convcheck check my_module[:conv2d] [--name NAME] [PYTEST OPTIONS]   # the property suite on a callable
    convcheck explain --input 1,1,6,6 --out-channels 2 --kernel 3 --padding 1   # a layer's shapes, every entry on it

``check`` runs ``pytest --convcheck NAME=MODULE:ATTR`` on the installed property suite, so every pytest option works
(``-n 2``, ``--hypothesis-profile=thorough``, ``--conformance-json PATH``); its exit status is pytest's. It leaves
nothing in the working directory: Hypothesis keeps failing examples in the user's cache folder
(``HYPOTHESIS_STORAGE_DIRECTORY`` or ``--example-database`` override it), and neither pytest's cache nor the benchmark
plug-in runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

USAGE = """usage: convcheck {check,explain} ...

  convcheck check MODULE[:ATTR] [--name NAME] [PYTEST OPTIONS]   the property suite on a conv2d callable (or a
                                                                  conv_transpose2d or conv2d_backward one)
  convcheck explain --input N,C,H,W --out-channels C_OUT --kernel K [...]   a layer's shapes, every entry on it

Run 'convcheck check -h' or 'convcheck explain -h' for the options of each."""


SUITE = Path(__file__).resolve().parent  # the property suite (not imported from the plug-in: see ``check``)


def hypothesis_folder() -> str:
    """Where ``convcheck check`` lets Hypothesis keep failing examples: the user's cache folder, not the working
    directory."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return str(cache / "convcheck" / "hypothesis")


def check(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="convcheck check",
        description="Run the convcheck property suite on a conv2d, conv_transpose2d or conv2d_backward callable "
        "(which one: its convcheck_call attribute, or its parameter output_padding or grad_out); other options go to "
        "pytest.",
    )
    parser.add_argument(
        "target", metavar="MODULE[:ATTR]", help="the callable (ATTR defaults to conv2d), importable from here"
    )
    parser.add_argument("--name", help="its name in the reports (default: ATTR)")
    args, pytest_args = parser.parse_known_args(argv)
    module, _, attribute = args.target.partition(":")
    if not module or not all(part.isidentifier() for part in [*module.split("."), *attribute.split(".")[:1]] if part):
        parser.error(f"expected MODULE[:ATTR] (a module importable from here), got {args.target!r}")
    target = f"{module}:{attribute or 'conv2d'}"
    name = args.name or target.rpartition(":")[2].rpartition(".")[2]
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", hypothesis_folder())
    import pytest  # imported here, Hypothesis not before it: pytest rewrites the asserts of the plug-ins it loads

    options = ["-p", "no:cacheprovider", "-p", "no:benchmark"]
    return int(pytest.main([str(SUITE), f"--convcheck={name}={target}", *options, *pytest_args]))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check"]:
        return check(argv[1:])
    if argv[:1] == ["explain"]:
        from convcheck.properties import explain

        return explain.main(argv[1:])
    if argv[:1] in (["-h"], ["--help"]):
        print(f"{USAGE}\n\n{__doc__.strip()}")
        return 0
    print(USAGE, file=sys.stderr)
    if argv:
        print(f"convcheck: unknown command {argv[0]!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
