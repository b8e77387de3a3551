"""The file path is the import path, and `make lint` checks first-party modules against each other."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

MYPY = Path(sys.executable).with_name("mypy")


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """mypy with the project's configuration on one extra module (``-c``), as `make lint` runs it."""
    return subprocess.run(
        [str(MYPY), "--config-file", str(REPO / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache"),
         "-c", source],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )


def test_mypy_finds_a_type_error_across_first_party_modules(tmp_path: Path) -> None:
    wrong = "from wirewatch.core.config import parse_duration\nseconds: int = parse_duration('5s')\n"
    result = _mypy(tmp_path, wrong)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'incompatible types in assignment (expression has type "timedelta"' in result.stdout.lower()

    right = "from wirewatch.core.config import parse_duration\nseconds: float = parse_duration('5s').total_seconds()\n"
    assert _mypy(tmp_path, right).returncode == 0


def test_the_package_is_wirewatch_and_services_is_not_importable() -> None:
    wirewatch = subprocess.run(
        [sys.executable, "-c", "import wirewatch, wirewatch.cli; print(wirewatch.__file__)"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    assert Path(wirewatch.stdout.strip()) == REPO / "services" / "wirewatch" / "__init__.py"
    services = subprocess.run(
        [sys.executable, "-c", "import services.wirewatch.cli"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert services.returncode == 1
    assert "services/ is not a package" in services.stderr


def test_every_python_folder_under_services_is_a_package_named_by_its_path() -> None:
    for folder in (REPO / "services" / "wirewatch").rglob("*"):
        if folder.is_dir() and any(folder.glob("*.py")):
            assert (folder / "__init__.py").exists(), f"{folder} holds modules but is no package"
    assert not (REPO / "schemas" / "__init__.py").exists()
