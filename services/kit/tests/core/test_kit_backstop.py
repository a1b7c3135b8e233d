"""The backstop ends a run whose test hangs past its timeout, and says where it hung."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

HANGING = textwrap.dedent(
    """
    import subprocess
    import time

    import pytest


    @pytest.fixture
    def child(tmp_path):
        process = subprocess.Popen(["sleep", "600"])
        (tmp_path.parent / "child.pid").write_text(str(process.pid))
        yield process
        hang_in_clean_up()


    def hang_in_clean_up():
        time.sleep(600)


    @pytest.mark.timeout(1)
    def test_times_out_and_its_clean_up_hangs(child):
        print("the story so far")
        time.sleep(600)


    def test_after_it(tmp_path):
        pass
    """
)


def _run(where: Path, grace: str) -> tuple[subprocess.CompletedProcess[str], float]:
    (where / "conftest.py").write_text('pytest_plugins = ["salur_kit.testing.backstop"]\n')
    (where / "test_hanging.py").write_text(HANGING)
    (where / "pytest.ini").write_text("[pytest]\n")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--basetemp", str(where / "t")],
        cwd=where,
        env=os.environ | {"SALUR_TEST_BACKSTOP_GRACE": grace},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result, time.monotonic() - started


def test_a_clean_up_that_hangs_after_the_timeout_ends_the_run_with_its_stack(
    tmp_path: Path,
) -> None:
    result, elapsed = _run(tmp_path, grace="2")

    assert result.returncode == 3, result.stdout + result.stderr
    assert elapsed < 60
    assert "[backstop] test_hanging.py::test_times_out_and_its_clean_up_hangs" in result.stderr
    assert "hang_in_clean_up" in result.stderr, "every thread's stack is shown"
    assert "the story so far" in result.stderr, "what the test printed is shown"
    assert "test_after_it" not in result.stdout, "the run ends there"
    child = int(next(tmp_path.glob("t/**/child.pid")).read_text())
    time.sleep(0.2)
    state = Path(f"/proc/{child}/stat")
    # Killed: gone, or a zombie until init reaps it.
    assert not state.exists() or state.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_test_within_its_timeout_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["salur_kit.testing.backstop"]\n')
    (tmp_path / "test_quick.py").write_text(
        "import pytest, time\n\n@pytest.mark.timeout(1)\ndef test_quick():\n    time.sleep(0.5)\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env=os.environ | {"SALUR_TEST_BACKSTOP_GRACE": "0.2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[backstop]" not in result.stderr
