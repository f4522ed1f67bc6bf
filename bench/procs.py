"""Child processes for the benchmark: each in its own process group, logged to a file,
waited for until it is ready, and always stopped (SIGTERM to the group, then SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class StartupError(RuntimeError):
    """A component did not come up; the message says which and shows its log's tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class Proc:
    """One long-running child process (a server)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(  # noqa: S603 - argv built by the benchmark itself
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,  # own process group: stop() reaches its children too
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def fail(self, why: str) -> StartupError:
        return StartupError(
            f"{self.name} {why}\n  command: {' '.join(self.argv)}\n"
            f"  log ({self.log_path}):\n{log_tail(self.log_path)}"
        )

    def wait_for_log(self, needle: str, timeout: float) -> str:
        """Wait until `needle` appears in the log; returns the line that holds it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            for line in text.splitlines():
                if needle in line:
                    return line
            if not self.alive():
                raise self.fail(f"exited with code {self.popen.returncode} before it was ready")
            time.sleep(0.1)
        raise self.fail(f"was not ready after {timeout:.0f}s")

    def wait_for_http(
        self,
        url: str,
        timeout: float,
        *,
        headers: Mapping[str, str] | None = None,
        ok: Callable[[int], bool] = lambda status: status == 200,
    ) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.alive():
                raise self.fail(f"exited with code {self.popen.returncode} before it was ready")
            request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                    if ok(response.status):
                        return
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                if ok(exc.code):
                    return
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise self.fail(f"did not answer {url} within {timeout:.0f}s (last: {last})")

    def stop(self, grace: float = 5.0) -> None:
        if self.alive():
            _signal_group(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        # The leader may be gone while children of its group live on: finish them too.
        _signal_group(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)
        self._log.close()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_checked(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
) -> str:
    """Run a one-shot command; return its stdout; raise StartupError with the log on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        completed = subprocess.run(  # noqa: S603 - argv built by the benchmark itself
            list(argv),
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        raise StartupError(f"{name} took longer than {timeout:.0f}s: {' '.join(argv)}") from exc
    with log_path.open("a") as log:
        log.write(f"$ {' '.join(argv)}\n{completed.stdout}\n{completed.stderr}\n")
    if completed.returncode != 0:
        raise StartupError(
            f"{name} failed (exit {completed.returncode}): {' '.join(argv)}\n{log_tail(log_path)}"
        )
    return completed.stdout


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of one process, all its threads, not its children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


def count_error_lines(path: Path) -> tuple[int, str]:
    """Lines of a server log that report an error or a traceback, and the first of them."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return 0, ""
    bad = [line for line in lines if " ERROR " in line or line.startswith("Traceback")]
    return len(bad), (bad[0] if bad else "")
