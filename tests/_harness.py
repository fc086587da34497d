"""Run ``retouch`` as a user would (a subprocess) and check the reliability contract.

The contract (docs/reliability.md), for every command and every input:

* exit 0 with a complete, decodable output; or a documented non-zero exit code
  (2 input, 3 output, 4 dependency) with exactly one line on stderr, starting
  ``retouch: error:``; never a traceback, a signal, exit 1 from an unexpected
  exception, a run over :data:`TIMEOUT_S` seconds or memory over
  :data:`MEMORY_CEILING` (an address-space limit set in the child);
* the input file's bytes are unchanged;
* on failure no output and no temporary file is left; on success only the
  requested outputs are new in the output folder.

A *command* is a function ``(input, out_dir) -> Invocation`` in :data:`COMMANDS`;
the batch command and the server (issue 7) plug in here with their own entry.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

#: Sources the child runs (``RETOUCH_SRC`` overrides: compare against another checkout).
SRC = Path(os.environ.get("RETOUCH_SRC", Path(__file__).resolve().parents[1] / "src"))
#: Wall-clock limit of one CLI run.
TIMEOUT_S = 30.0
#: Address-space ceiling of one CLI run (bytes). The CLI needs ~1.3 GiB of
#: address space for a small photo (mediapipe, OpenBLAS thread buffers); this
#: leaves room for a few hundred megapixels of decoded data and no more.
MEMORY_CEILING = int(os.environ.get("RETOUCH_FUZZ_MEMORY_MB", "3072")) << 20
#: Exit codes documented for failures (see retouch.cli).
DOCUMENTED_FAILURES = {2: "input", 3: "output", 4: "dependency"}
#: Name fragment of in-flight temporary files (see retouch.atomic).
TEMP_MARK = ".retouch-tmp"


@dataclass
class Invocation:
    """How to run one command on one input.

    Attributes:
        argv: arguments after ``retouch``.
        outputs: files the command must create on success (image files).
        extra: other files it may create on success (reports, previews...).
        stdin: bytes fed to stdin.
        same_size: whether the output image must have the input's decoded size.
    """

    argv: list[str]
    outputs: list[Path]
    extra: list[Path] = field(default_factory=list)
    stdin: bytes = b""
    same_size: bool = True


@dataclass
class CliRun:
    """What one subprocess run did."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float
    timed_out: bool = False


def _limits() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CEILING, MEMORY_CEILING))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setsid()  # own process group: a timeout kills everything it started


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of the child: this checkout's sources, no inherited log settings."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GLOG_minloglevel", "TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS",
                        "RETOUCH_DEBUG")}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONHASHSEED"] = "0"
    env.update(extra or {})
    return env


def start_cli(argv: list[str], cwd: Path, stdin: bytes = b"", out_prefix: Path | None = None,
              env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path, Path]:
    """Start ``python -m retouch.cli *argv`` with the limits; stdout/stderr go to files."""
    prefix = out_prefix or cwd / ".run"
    so, se = Path(f"{prefix}.stdout"), Path(f"{prefix}.stderr")
    with open(so, "wb") as fo, open(se, "wb") as fe:
        p = subprocess.Popen([sys.executable, "-m", "retouch.cli", *argv], cwd=cwd,
                             stdin=subprocess.PIPE, stdout=fo, stderr=fe, env=cli_env(env),
                             preexec_fn=_limits)
    assert p.stdin is not None
    try:
        p.stdin.write(stdin)
        p.stdin.close()
    except BrokenPipeError:
        pass
    return p, so, se


def run_cli(argv: list[str], cwd: Path, stdin: bytes = b"", timeout: float = TIMEOUT_S,
            env: dict[str, str] | None = None) -> CliRun:
    """Run the CLI in a subprocess under :data:`MEMORY_CEILING` and ``timeout``.

    ``env`` adds variables to the child's environment (see :func:`cli_env`).
    """
    t0 = time.perf_counter()
    p, so, se = start_cli(argv, cwd, stdin, out_prefix=cwd.parent / f".{cwd.name}.run", env=env)
    timed_out = False
    hwm_kb = 0
    while True:
        hwm_kb = max(hwm_kb, _vm_hwm_kb(p.pid))
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() - t0 > timeout:
            timed_out = True
            os.killpg(p.pid, signal.SIGKILL)
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.01)
    rc = os.waitstatus_to_exitcode(status)
    p.returncode = rc  # reaped with wait4 above (for its rusage)
    out = so.read_text("utf-8", "replace")
    err = se.read_text("utf-8", "replace")
    so.unlink()
    se.unlink()
    # ru_maxrss also counts the pre-exec copy of this (large) test process made by
    # fork, so the child's own high-water mark polled from /proc is preferred.
    rss_kb = hwm_kb if hwm_kb else ru.ru_maxrss
    return CliRun(argv, rc, out, err, time.perf_counter() - t0, rss_kb / 1024, timed_out)


def _vm_hwm_kb(pid: int) -> int:
    """Peak resident set (kB) of a running process after its exec (0 if unknown)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> set[str]:
    """Names of everything under ``folder`` (recursive, relative paths)."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def decode_check(path: Path) -> tuple[int, int]:
    """Fully decode an output image with Pillow; return its size (raises if broken)."""
    with Image.open(path) as im:
        im.load()
        return im.size


# --------------------------------------------------------------------------- settings

#: ``RETOUCH_FUZZ=full`` runs the long suites (more cases, every command on every case).
FULL = os.environ.get("RETOUCH_FUZZ", "").lower() in ("1", "full", "long")


def budget(quick: int, full: int) -> int:
    """A case count: ``quick`` in the normal test run, ``full`` with ``RETOUCH_FUZZ=full``."""
    return full if FULL else quick


#: Outcomes of every case run in this process (written by conftest when
#: ``RETOUCH_FUZZ_REPORT`` names a JSON file; see benchmarks/fuzz_report.py).
RECORDS: list[dict[str, object]] = []


def record(suite: str, case: str, kind: str, status: str, seconds: float = 0.0,
           max_rss_mb: float = 0.0, detail: str = "") -> None:
    """Remember one case's outcome for the fuzz report."""
    RECORDS.append({"suite": suite, "case": case, "kind": kind, "status": status,
                    "seconds": round(seconds, 3), "max_rss_mb": round(max_rss_mb, 1),
                    "detail": detail[:200]})


# --------------------------------------------------------------------------- commands


def cmd_retouch(inp: Path, out: Path) -> Invocation:
    """Default command with a report and masks."""
    o = out / "out.png"
    return Invocation([str(inp), "-o", str(o), "--report", str(out / "r.json"),
                       "--masks", str(out / "masks")], [o], [out / "r.json", out / "masks"])


def cmd_retouch_jpeg(inp: Path, out: Path) -> Invocation:
    """Default command writing JPEG, with a plain-language instruction."""
    o = out / "out.jpg"
    return Invocation([str(inp), "-o", str(o), "-i", "remove the acne, keep the freckles",
                       "-q"], [o])


def cmd_edit(inp: Path, out: Path) -> Invocation:
    """``retouch edit`` with a structure and a colour edit, TIFF output."""
    o = out / "out.tif"
    return Invocation(["edit", str(inp), "-o", str(o), "--set", "eyes.size=0.3",
                       "--set", "lipstick=#b0303a:0.5", "--report", str(out / "e.json")],
                      [o], [out / "e.json"])


def cmd_restore(inp: Path, out: Path) -> Invocation:
    """``retouch restore`` to WebP."""
    o = out / "out.webp"
    return Invocation(["restore", str(inp), "-o", str(o), "--report", str(out / "r.json")],
                      [o], [out / "r.json"])


def cmd_chat(inp: Path, out: Path) -> Invocation:
    """``retouch chat`` fed a short conversation on stdin, saving a PNG."""
    o = out / "chat.png"
    talk = f"remove the acne\nshow me what you found\nundo\nredo\nsave as {o}\nquit\n"
    return Invocation(["chat", str(inp), "-q", "--preview", str(out / "p.jpg")], [o],
                      [out / "p.jpg", out / "p_found.png"], stdin=talk.encode())


#: Every CLI command the suites exercise. Batch/server runners go here (issue 7).
COMMANDS: dict[str, Callable[[Path, Path], Invocation]] = {
    "retouch": cmd_retouch,
    "retouch-jpeg-instruction": cmd_retouch_jpeg,
    "edit": cmd_edit,
    "restore": cmd_restore,
    "chat": cmd_chat,
}


# --------------------------------------------------------------------------- contract


@dataclass
class Outcome:
    """Result of one case under one command."""

    case: str
    command: str
    returncode: int
    seconds: float
    max_rss_mb: float
    problems: list[str]
    first_stderr_line: str = ""

    @property
    def status(self) -> str:
        """``ok``, ``error<code>`` or ``VIOLATION``."""
        if self.problems:
            return "VIOLATION"
        return "ok" if self.returncode == 0 else f"error{self.returncode}"


def input_size(path: Path) -> tuple[int, int] | None:
    """Decoded, upright size of an input as ``retouch`` sees it, or ``None``."""
    from retouch.errors import RetouchError
    from retouch.imageio import load_image

    try:
        return load_image(path).size_wh
    except RetouchError:
        return None


def run_case(inp: Path, out_dir: Path, command: str, expect: str = "any",
             case_id: str = "") -> Outcome:
    """Run one command on ``inp`` (outputs into the empty folder ``out_dir``) and check."""
    inv = COMMANDS[command](inp, out_dir)
    before_hash = sha256(inp)
    before = listing(out_dir)
    run = run_cli(inv.argv, cwd=out_dir, stdin=inv.stdin)
    problems = check(run, inv, out_dir, before, expect)
    if sha256(inp) != before_hash:
        problems.append("input file was modified")
    lines = run.stderr.strip().splitlines()
    return Outcome(case_id or inp.name, command, run.returncode, round(run.seconds, 3),
                   round(run.max_rss_mb, 1), problems, lines[0][:200] if lines else "")


def check(run: CliRun, inv: Invocation, out_dir: Path, before: set[str],
          expect: str = "any") -> list[str]:
    """Every way ``run`` broke the contract (empty list: it kept it)."""
    problems: list[str] = []
    err_lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    after = listing(out_dir)
    new = after - before
    temps = sorted(n for n in after if TEMP_MARK in n or n.endswith(".tmp"))
    if run.timed_out:
        problems.append(f"hang: killed after {TIMEOUT_S:.0f} s")
    if "Traceback" in run.stderr or "Traceback" in run.stdout:
        problems.append("traceback printed")
    if temps:
        problems.append(f"temporary files left: {temps}")
    if run.returncode == 0:
        if expect == "error":
            problems.append("succeeded on an input that must be refused")
        bad = [ln for ln in err_lines if not ln.startswith("retouch: warning:")]
        if bad:
            problems.append(f"stderr noise on success: {bad[:2]}")
        for o in inv.outputs:
            if not o.is_file():
                problems.append(f"missing output {o.name}")
                continue
            try:
                size = decode_check(o)
            except Exception as exc:  # the output must decode
                problems.append(f"output {o.name} does not decode: {exc}")
                continue
            if inv.same_size:
                want = input_size(Path(inv.argv[1] if inv.argv[0] in ("edit", "restore", "chat")
                                       else inv.argv[0]))
                if want is not None and size != want:
                    problems.append(f"output size {size} != input size {want}")
        allowed = {o.name for o in inv.outputs} | {e.name for e in inv.extra}
        stray = sorted(n for n in new if n.split(os.sep)[0] not in allowed)
        if stray:
            problems.append(f"unexpected new files: {stray[:5]}")
    else:
        if run.returncode < 0:
            problems.append(f"killed by signal {-run.returncode}")
        elif run.returncode not in DOCUMENTED_FAILURES:
            problems.append(f"undocumented exit code {run.returncode}")
        elif expect == "ok":
            problems.append(f"failed on a valid input: {err_lines[:1]}")
        elif expect == "error" and run.returncode != 2:
            problems.append(f"exit {run.returncode} instead of 2")
        if len(err_lines) != 1 or not err_lines[0].startswith("retouch: error: "):
            problems.append(f"stderr is not one error line: {err_lines[:3]}")
        elif "unexpected" in err_lines[0]:
            problems.append(f"unexpected exception: {err_lines[0]}")
        if new:
            problems.append(f"files left after a failure: {sorted(new)[:5]}")
    return problems
