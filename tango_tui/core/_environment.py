"""Where a step ran: machine and software environment, collected once per process.

Both collectors are cached for the life of the process (the answers do not change while it runs,
and a pipeline starts many steps). Every probe is best effort: a failure gives ``None`` in that
field, never an exception.
"""

from __future__ import annotations

import functools
import getpass
import logging
import os
import platform
import shlex
import socket
import subprocess
import sys

from ._model import EnvironmentMetadata, GitMetadata, PlatformMetadata

logger = logging.getLogger(__name__)

GIT_TIMEOUT = 2.0
"""Seconds a ``git`` probe may take before it is abandoned (a slow NFS checkout must not stall a step)."""


@functools.lru_cache(maxsize=1)
def collect_platform() -> PlatformMetadata:
    """The machine this process runs on (cached per process)."""
    try:
        user: str | None = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry for the uid and no USER variable
        user = None
    try:
        system: str | None = platform.platform()
    except OSError:
        system = None
    return PlatformMetadata(
        host=socket.gethostname(), user=user, operating_system=system, cpu_count=os.cpu_count()
    )


def _git(*args: str, cwd: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as e:
        logger.debug("git %s in %s failed: %s", " ".join(args), cwd, e)
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "replace").strip()


def collect_git(cwd: str | None = None) -> GitMetadata | None:
    """Commit, origin URL and dirtiness of the git checkout containing ``cwd``; None outside git."""
    cwd = cwd or os.getcwd()
    commit = _git("rev-parse", "HEAD", cwd=cwd)
    if not commit:
        return None
    remote = _git("config", "--get", "remote.origin.url", cwd=cwd) or None
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=cwd)
    return GitMetadata(commit=commit, remote=remote, dirty=None if status is None else bool(status))


@functools.lru_cache(maxsize=1)
def collect_environment() -> EnvironmentMetadata:
    """The software environment of this process (cached per process)."""
    try:
        cwd: str | None = os.getcwd()
    except OSError:  # the working directory was deleted
        cwd = None
    return EnvironmentMetadata(
        python=platform.python_version(),
        executable=sys.executable or None,
        command=shlex.join(sys.argv) if sys.argv else None,
        root=cwd,
        git=collect_git(cwd) if cwd else None,
        packages=None,
    )
