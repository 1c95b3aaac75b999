"""convcheck from any project: installed (not editable) into a fresh virtual environment, its pytest plug-in and
its command check a callable of a throwaway project that knows nothing of this repository."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROJECT_MODULE = '''
"""A project's own conv2d, correct, and the same with a flipped kernel."""
import numpy as np

from convcheck.impls import REGISTRY


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return REGISTRY["im2col"](x, weight, bias, stride, padding, dilation, groups)


def flipped(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    weight = np.ascontiguousarray(weight[:, :, ::-1, ::-1]) if isinstance(weight, np.ndarray) else weight
    return conv2d(x, weight, bias, stride, padding, dilation, groups)
'''


# Variables that would put other folders on the environment's sys.path than the two it is given.
PATH_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONSTARTUP")


def run(command: list, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    environ = {name: value for name, value in os.environ.items() if name not in PATH_VARIABLES}
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environ)


def running_site_packages() -> list[str]:
    """The site-packages folders this interpreter imports from: its virtual environment's (where the README's
    install put numpy, torch, ...), or the base interpreter's and the user's when it runs outside one."""
    folders = [*site.getsitepackages(), site.getusersitepackages() if site.ENABLE_USER_SITE else ""]
    return [folder for folder in folders if folder in sys.path]


def environment_path(python: Path, cwd: Path) -> list[str]:
    found = run([str(python), "-c", "import json, sys; print(json.dumps(sys.path))"], cwd)
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout)


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> Path:
    """A fresh venv with convcheck built and installed from this repository as a wheel, whose other packages
    (numpy, torch, pytest, ...) are this environment's: a ``.pth`` file puts this interpreter's site-packages after
    the venv's own. Only the folders are added (their ``.pth`` files, such as an editable install of convcheck, are
    not run), and never the base interpreter's packages, which a virtual environment made with
    ``--system-site-packages`` from a virtual environment would see instead of the ones installed in it."""
    folder = tmp_path_factory.mktemp("installed")
    venv = folder / "venv"
    python = venv / "bin" / "python"
    assert run([sys.executable, "-m", "venv", "--without-pip", str(venv)], folder).returncode == 0
    found = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], folder)
    own = Path(found.stdout.strip())  # the venv's site-packages
    assert own.is_relative_to(venv), found.stdout + found.stderr
    (own / "running-environment.pth").write_text("".join(f"{path}\n" for path in running_site_packages()))
    source, wheels = folder / "source", folder / "wheels"  # built from a copy: the build leaves the clone clean
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__"))
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                 str(source)], folder)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next(wheels.glob("convcheck-*.whl"))
    pip = [sys.executable, "-m", "pip", "--python", str(python)]  # this environment's pip, installing into the venv
    installed = run([*pip, "install", "--no-deps", "--no-index", str(wheel)], folder)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "conv.py").write_text(textwrap.dedent(PROJECT_MODULE))
    return tmp_path


def test_the_wheel_installs_one_package_named_convcheck(environment, project):
    python = str(environment / "bin" / "python")
    found = run([python, "-c", "import convcheck.impls as i; print(i.__file__)"], project)
    assert Path(found.stdout.strip()).is_relative_to(environment), found.stdout + found.stderr
    record = next(environment.glob("lib/python*/site-packages/convcheck-*.dist-info/RECORD")).read_text()
    top_level = {line.split("/")[0] for line in record.splitlines()} - {"", ".."}  # "..": the command, in bin/
    assert {name for name in top_level if not name.startswith("convcheck")} == set(), top_level


def test_a_project_with_a_package_named_properties_keeps_it_and_runs_the_check(environment, project):
    """Installed beside a package named ``properties`` (an existing distribution's name), each imports its own."""
    (project / "properties").mkdir()
    (project / "properties" / "__init__.py").write_text('OWNER = "the project"\n')
    python = str(environment / "bin" / "python")
    found = run([python, "-c", "import properties; print(properties.OWNER)"], project)
    assert found.stdout.strip() == "the project", found.stdout + found.stderr
    check = run([str(environment / "bin" / "convcheck"), "check", "mypkg.conv:conv2d", "-k", "shape", "-q"], project)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr


def test_the_environment_sees_its_own_packages_then_these_and_no_others(environment, project):
    path = environment_path(environment / "bin" / "python", project)
    own, *others = [entry for entry in path if Path(entry).name in ("site-packages", "dist-packages")]
    assert Path(own).is_relative_to(environment), path
    assert others == running_site_packages(), path


def test_pytest_convcheck_passes_a_correct_callable_and_catches_a_buggy_one(environment, project):
    """Every property of the installed package runs on a correct callable (a few examples each: the suite's verdicts
    are tested in the checkout) and passes; a flipped kernel fails."""
    pytest_run = [str(environment / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider"]
    good = run([*pytest_run, "--convcheck", "mine=mypkg.conv:conv2d", "--hypothesis-profile=smoke"], project)
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr
    assert "convcheck conformance" in good.stdout
    assert "mine" in good.stdout.partition("convcheck conformance")[2]
    bad = run([*pytest_run, "--convcheck", "mine=mypkg.conv:flipped", "--hypothesis-profile=gallery", "-n", "2"],
              project)  # fmt: skip
    assert bad.returncode == 1, bad.stdout[-3000:] + bad.stderr
    assert "FAIL" in bad.stdout.partition("convcheck conformance")[2]


def test_convcheck_check_command(environment, project):
    """The command's exit status and report (the whole suite runs on the installed package in the test above: two
    families are enough here)."""
    command = [str(environment / "bin" / "convcheck"), "check"]
    options = ["--hypothesis-profile=gallery", "-q", "-k", "golden or shape"]
    good = run([*command, "mypkg.conv:conv2d", *options], project)
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr
    bad = run([*command, "mypkg.conv:flipped", *options, "--conformance-json=out.json"], project)
    assert bad.returncode == 1, bad.stdout[-3000:] + bad.stderr
    assert '"FAIL"' in (project / "out.json").read_text()
