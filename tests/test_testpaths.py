"""Every app's tests run: a ``tests`` package missing from pytest.ini's testpaths is never
collected by ``make test`` (the flexible app's were not, until this test)."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_tests_package_is_in_testpaths():
    ini = configparser.ConfigParser()
    ini.read(ROOT / "pytest.ini")
    paths = set(ini["pytest"]["testpaths"].split())
    packages = {p.parent.parent.name for p in ROOT.glob("*/tests/__init__.py")
                if not p.parent.parent.name.startswith(".")}
    assert packages, "no tests packages found"
    assert packages - paths == set()
