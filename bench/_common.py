"""Helpers shared by the benchmarks in this folder (standard library + httpx only).

* ``Budget``: one wall-clock limit for a whole bench run, with a SIGALRM backstop.
* ``free_port``, ``ServerProcess``: run ``kirana serve`` (or anything else) as a child
  process in its own process group, wait for a health URL, stop it cleanly.
* ``StoreDir``: a throw-away store (config copied from ``store_config/store.toml`` with
  its paths pointed inside the folder, migrated database, API keys) driven through the
  real ``kirana`` CLI, so a bench measures what a store actually runs.
* ``summarize``/``percentile``: latency statistics in milliseconds.
* ``machine_info``, ``format_table``: the machine description and the figures table.

The server and the load generator run on the same machine and share its CPUs: figures
are for comparing one build with another on the same box, not absolute capacity.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent
LOCALHOST = "127.0.0.1"


# ---- time budget ---------------------------------------------------------------------


class BudgetExceeded(Exception):
    """The bench ran past its wall-clock limit; everything it started is cleaned up."""


class Budget:
    """A wall-clock limit for a whole run.

    Pass ``remaining()`` as the timeout of every blocking step; ``arm()`` also sets a
    SIGALRM that raises BudgetExceeded (main thread only) so a step that ignores its
    timeout still unwinds through the caller's ``finally`` blocks.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        left = self.seconds - self.elapsed()
        if left <= 0:
            raise BudgetExceeded(f"time budget of {self.seconds:.0f} s used up")
        return left

    def arm(self) -> None:
        def on_alarm(_signum: int, _frame: object) -> None:
            raise BudgetExceeded(f"time budget of {self.seconds:.0f} s used up (alarm)")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(max(1, int(self.remaining()) + 5))  # steps time out first; this is a net

    @staticmethod
    def disarm() -> None:
        signal.alarm(0)


# ---- processes -----------------------------------------------------------------------


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port that was free a moment ago (the usual bind-to-0 trick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: unbuffered, no colours, no proxies for localhost.

    PYTHONPATH starts with the repository so ``app`` is always this checkout's package,
    whatever the child's working directory (a stale editable install can otherwise turn
    ``app`` into a namespace package without ``app/__init__.py``).
    """
    env = dict(os.environ)
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", TERM="dumb", COLUMNS="120",
               NO_PROXY=LOCALHOST, no_proxy=LOCALHOST)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def last_line(self, stream: str = "stdout") -> str:
        """Last non-empty line of stdout (or "stderr": where kirana's rich console writes)."""
        text = self.stdout if stream == "stdout" else self.stderr
        lines = [line for line in text.splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""


def run_cli(args: Sequence[str], *, cwd: Path, timeout: float, check: bool = True) -> CliResult:
    """Run a command to completion, timed; raise with its output if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(
        list(args), cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=timeout,
    )
    result = CliResult(list(args), proc.returncode, proc.stdout, proc.stderr,
                       time.perf_counter() - start)
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, args))} exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
        )
    return result


class ServerProcess:
    """A server child process in its own session (process group), output to a log file.

    ``stop()`` sends SIGINT to that group (uvicorn shuts down gracefully and runs the
    app's shutdown hooks), then SIGKILL if it is still there after ``grace`` seconds.
    Only the group this object started is ever signalled.
    """

    def __init__(self, args: Sequence[str], *, cwd: Path, log_path: Path,
                 env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.args, cwd=cwd, env=env or child_env(), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.pid = self.proc.pid
        self.returncode: int | None = None
        self.exited_early = False

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_ready(self, url: str, timeout: float) -> float:
        """Poll ``url`` until it answers 200; return the seconds it took."""
        start = time.monotonic()
        deadline = start + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"server exited with {self.proc.returncode} before {url} answered\n"
                        f"{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get(url).status_code == 200:
                        return time.monotonic() - start
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} not ready after {timeout:.0f} s\n{self.log_tail()}")
                time.sleep(0.1)

    def stop(self, grace: float = 10.0) -> int | None:
        """Stop the server; ``exited_early`` tells whether it was already gone."""
        self.exited_early = self.proc.poll() is not None
        if not self.exited_early:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=grace)
        self.returncode = self.proc.returncode
        self._log.close()
        return self.returncode


# ---- a throw-away store ----------------------------------------------------------------


def kirana_exe() -> str:
    """The ``kirana`` console script next to the running interpreter (the project venv)."""
    for candidate in (BIN_DIR / "kirana", REPO / ".venv" / "bin" / "kirana"):
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("kirana CLI not found; run with /work/main/.venv/bin/python")


class StoreDir:
    """A store in ``root``: store.toml (paths inside root), store.db, var/ for sessions."""

    def __init__(self, root: Path, template: Path = REPO / "store_config" / "store.toml") -> None:
        self.root = root
        self.config = root / "store.toml"
        text = template.read_text(encoding="utf-8")
        replaced = re.sub(r'(?m)^path = ".*"$', 'path = "store.db"', text, count=1)
        replaced = re.sub(r'(?m)^data_dir = ".*"$', 'data_dir = "var"', replaced, count=1)
        if 'path = "store.db"' not in replaced or 'data_dir = "var"' not in replaced:
            raise RuntimeError(f"could not rewrite the paths in {template}")
        root.mkdir(parents=True, exist_ok=True)
        self.config.write_text(replaced, encoding="utf-8")
        self.db_path = root / "store.db"

    def cli(self, *args: str, timeout: float, check: bool = True) -> CliResult:
        """``kirana <group> <command> --config store.toml <args...>``."""
        group, command, *rest = args
        return run_cli([kirana_exe(), group, command, "--config", str(self.config), *rest],
                       cwd=self.root, timeout=timeout, check=check)

    def upgrade(self, timeout: float) -> CliResult:
        return self.cli("db", "upgrade", timeout=timeout)

    def import_catalog(self, csv_path: Path, timeout: float) -> CliResult:
        return self.cli("catalog", "import", str(csv_path), timeout=timeout)

    def api_key(self, name: str, scope: str, timeout: float) -> str:
        key = self.cli("apikey", "create", "--name", name, "--scope", scope,
                       timeout=timeout).last_line()
        if not key or " " in key:
            raise RuntimeError(f"unexpected apikey output: {key!r}")
        return key

    def session_files(self) -> int:
        """Server-side session files written so far (``[server] data_dir``/sessions)."""
        folder = self.root / "var" / "sessions"
        return sum(1 for p in folder.iterdir() if p.is_file()) if folder.is_dir() else 0

    def serve(self, port: int, host: str = LOCALHOST) -> ServerProcess:
        """Start ``kirana serve`` (one uvicorn worker, as a store runs it)."""
        return ServerProcess(
            [kirana_exe(), "serve", "--config", str(self.config), "--host", host,
             "--port", str(port)],
            cwd=self.root, log_path=self.root / "server.log",
        )


@contextlib.contextmanager
def work_directory(path: str | None, keep: bool, prefix: str) -> Iterator[Path]:
    """A fresh temp dir (removed afterwards unless keep), or the given one (always kept)."""
    if path:
        root = Path(path).resolve()
        root.mkdir(parents=True, exist_ok=True)
        if any(root.iterdir()):
            raise RuntimeError(f"--workdir {root} is not empty")
        yield root
        return
    import tempfile

    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield root
    finally:
        if keep:
            print(f"kept work directory {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def run_in_work_directory(args, prefix: str,
                          run: Callable[[Any, Path, Budget], int]) -> int:
    """A bench's main(): `run(args, root, budget)` in a work directory under the time
    limit (`args.time_limit`, `args.workdir`, `args.keep`). Exit 3 when the budget runs
    out, 1 on a setup or request failure."""
    budget = Budget(args.time_limit)
    budget.arm()
    try:
        with work_directory(args.workdir, args.keep, prefix=prefix) as root:
            return run(args, root, budget)
    except BudgetExceeded as exc:
        print(f"ABORTED: {exc}", file=sys.stderr)
        return 3
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        Budget.disarm()


# ---- statistics ------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); p in 0..100."""
    if not sorted_values:
        return float("nan")
    if len(sorted_values) == 1:
        return sorted_values[0]
    rank = (len(sorted_values) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass(frozen=True)
class LatencySummary:
    n: int
    p50: float  # milliseconds
    p90: float
    p99: float
    max: float
    mean: float


def summarize(seconds: Sequence[float]) -> LatencySummary:
    values = sorted(s * 1000 for s in seconds)
    if not values:
        nan = float("nan")
        return LatencySummary(0, nan, nan, nan, nan, nan)
    return LatencySummary(
        n=len(values), p50=percentile(values, 50), p90=percentile(values, 90),
        p99=percentile(values, 99), max=values[-1], mean=sum(values) / len(values),
    )


# ---- machine and tables -----------------------------------------------------------------


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        match = re.search(rf"(?m)^{key}\s*:\s*(.+)$", text)
        if match:
            return " ".join(match.group(1).split())
    return platform.processor() or platform.machine()


def mem_total_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        text = Path("/proc/meminfo").read_text()
        kib = int(re.search(r"(?m)^MemTotal:\s+(\d+) kB", text).group(1))
        return kib / 1024 / 1024
    return None


def package_versions(names: Sequence[str]) -> str:
    parts = []
    for name in names:
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} (missing)")
    return ", ".join(parts)


def load_average() -> str:
    """1, 5 and 15 minute load averages: above nproc means the figures are disturbed."""
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def busy_warning() -> str | None:
    """A warning when other work already keeps the CPUs busy (1-minute load >= nproc/2)."""
    try:
        load1 = float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if load1 >= max(1.0, (nproc or 1) / 2):
        return (f"WARNING: load average {load1:.2f} on {nproc} CPUs before the bench started: "
                "other work is competing, figures will be noisy (compare with care)")
    return None


def code_version() -> str:
    """The commit of the code under test, marked "+ local changes" when app/ is edited."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "app"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    return head.stdout.strip() + (" + local changes in app/" if dirty.stdout.strip() else "")


def machine_info(packages: Sequence[str] = ()) -> list[tuple[str, str]]:
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = mem_total_gib()
    info = [
        ("CPUs (nproc)", f"{nproc} usable of {os.cpu_count()}"),
        ("CPU model", cpu_model()),
        ("memory", f"{mem:.1f} GiB" if mem else "unknown"),
        ("OS", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("SQLite", sqlite3.sqlite_version),
        ("load average", f"{load_average()} (1/5/15 min, at start)"),
        ("code", code_version()),
    ]
    if packages:
        info.append(("packages", package_versions(packages)))
    return info


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *,
                 markdown: bool = False, numeric: bool = True) -> str:
    """A plain (or Markdown) table; first column left-aligned, the others right-aligned
    (left-aligned too when ``numeric`` is false)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        parts = [c.ljust(w) if i == 0 or not numeric else c.rjust(w) for i, (c, w) in
                 enumerate(zip(row, widths, strict=True))]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts)

    rule = ("|" + "|".join("-" * (w + 1) + ("-" if i == 0 or not numeric else ":")
                           for i, w in enumerate(widths)) + "|") if markdown else \
        "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.2f}"
    return str(value)
