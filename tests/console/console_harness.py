"""What the console's browser tests share: the project/domain they use and running unmodified flytekit's pyflyte."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

CONSOLE_DIR = Path(__file__).resolve().parent
PROJECT, DOMAIN = "flytesnacks", "development"


def pyflyte(stack: Any, config: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(Path(stack.venv) / "bin" / "pyflyte"), "--config", str(config), *args],
        cwd=CONSOLE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"pyflyte {args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result
