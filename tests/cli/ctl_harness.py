"""What the aloftctl end-to-end tests share: running the CLI as a user does, reading execution ids it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT, DOMAIN = "flytesnacks", "development"


@dataclass
class Ctl:
    config: Path
    workdir: Path

    def run(self, *args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "aloftctl", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.workdir,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"aloftctl {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def pd(self, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        """The command with ``-p flytesnacks -d development``."""
        return self.run(*args, "-p", PROJECT, "-d", DOMAIN, **kwargs)  # type: ignore[arg-type]


def execution_name(output: str) -> str:
    match = re.search(r'name:"([^"]+)"', output)
    assert match, f"no execution identifier in {output!r}"
    return match.group(1)
