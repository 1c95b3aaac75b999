"""Catch rates of the extreme-argument and state gallery bugs over randomized default-profile runs.

    python3 tests/catch_rates_extreme_state.py [--runs 20] [--workers 2]

Each run copies the working tree into a fresh temporary folder (so that no run replays another's failures from the
example database), runs the property families each bug is declared for in ``tests/test_gallery.py::KNOWN_BUGS`` on
all these bugs with the default profile and a random ``--hypothesis-seed``, and counts a bug caught when one of those
families fails on it. The table gives, per bug, the runs that caught it.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.test_gallery import KNOWN_BUGS, ROOT, bug_id, read_junit

BUGS = ("padded_plane_allocated", "cached_by_id", "output_in_shared_workspace")


def copy_tree(target: Path) -> None:
    """The tracked and untracked, not ignored, files of the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def one_run(seed: int, workers: int | None) -> set[str]:
    """The bugs one randomized run catches in their declared families."""
    families = sorted(set().union(*(KNOWN_BUGS[bug] for bug in BUGS)))
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        copy_tree(tree)
        junit = tree / "run.xml"
        command = [sys.executable, "-m", "pytest", *(f"properties/test_{family}.py" for family in families)]
        command += ["-p", "no:cacheprovider", "-q", "--hypothesis-profile=default", f"--hypothesis-seed={seed}"]
        command += [f"--junitxml={junit}", "-k", " or ".join(bug_id(bug) for bug in BUGS)]
        command += [f"--impl={bug_id(bug)}=tests.gallery.buggy:{bug}" for bug in BUGS]
        command += ["-n", str(workers)] if workers else []
        subprocess.run(command, cwd=tree, capture_output=True, check=False)
        outcomes = read_junit(junit, [bug_id(bug) for bug in BUGS])
    return {bug for bug in BUGS if {family for family, _, _ in outcomes[bug_id(bug)].failures} & KNOWN_BUGS[bug]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None, help="pytest-xdist workers per run")
    arguments = parser.parse_args()
    caught = dict.fromkeys(BUGS, 0)
    for run in range(arguments.runs):
        seed = random.randrange(2**32)
        found = one_run(seed, arguments.workers)
        for bug in found:
            caught[bug] += 1
        print(f"run {run + 1} (seed {seed}): caught {', '.join(sorted(found)) or 'nothing'}", flush=True)
    for bug, count in caught.items():
        print(f"{bug:32} {count}/{arguments.runs}  ({', '.join(sorted(KNOWN_BUGS[bug]))})")


if __name__ == "__main__":
    main()
