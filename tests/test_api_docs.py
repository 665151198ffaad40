"""The API reference builds from the docstrings and covers every pinned public module."""

import subprocess
import sys
from pathlib import Path

from tests.test_public_api import PUBLIC_API


def test_api_reference_builds_for_every_public_module(tmp_path: Path) -> None:
    pdoc = Path(sys.executable).with_name("pdoc")
    done = subprocess.run(
        [str(pdoc), "--docformat", "google", "--output-directory", str(tmp_path),
         *sorted(PUBLIC_API)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    for module in PUBLIC_API:
        page = tmp_path.joinpath(*module.split(".")).with_suffix(".html")
        assert page.is_file(), f"no API page for {module}"
        for name in PUBLIC_API[module]:
            assert name in page.read_text(), f"{module}.{name} is missing from its page"
