"""Run every benchmark and print one table (figure, value, target, ratio, ok); write it to bench/RESULTS.md.

    .venv/bin/python bench/run_all.py            # events, ad_metrics, audience at the issues' sizes (~8 min)
    .venv/bin/python bench/run_all.py --quick    # smaller sizes (~1 min)
    .venv/bin/python bench/run_all.py --load     # also bench/load.py: 5M events, 10M members, 3 DAGs at once

Each benchmark runs in its own process (``bench/<name>.py --figures-json``), so one's imports, environment
and memory cannot colour another's figures; its own output streams to stderr, prefixed with its name. A
missed target is marked MISS and never fails the run: the exit status is 1 only when a benchmark crashed.
The Markdown file records the date, the machine (cores, RAM, Python), the commit and the command.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.figures import CRASH, INFO, MISS, OK, Section, read_json, render_markdown, render_text, summary

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
#: The benchmarks run by default, in order, and the one ``--load`` adds.
BENCHES = ("events", "ad_metrics", "audience")
LOAD = "load"
SCRIPTS: dict[str, Path] = {name: BENCH_DIR / f"{name}.py" for name in (*BENCHES, LOAD)}
RESULTS = BENCH_DIR / "RESULTS.md"
#: Lines of a benchmark's output kept to explain a crash.
TAIL_LINES = 20


def run_bench(name: str, command: Sequence[str], figures_path: Path, log: TextIO = sys.stderr) -> Section:
    """Run one benchmark process, streaming its output to ``log``; its figures, or why it crashed."""
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            tail.append(line.rstrip("\n"))
            log.write(f"[{name}] {line}")
            log.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    code = proc.wait()
    reader.join()
    seconds = time.monotonic() - started
    figures = []
    error = None
    try:
        figures = read_json(figures_path)
    except (OSError, ValueError, TypeError) as exc:
        error = f"no figures ({type(exc).__name__})"
    if code != 0:
        last = next((line.strip() for line in reversed(tail) if line.strip()), "")
        error = f"exit {code}: {last[:200]}" if last else f"exit {code}"
    return Section(name, figures, error, seconds)


def bench_command(name: str, *, quick: bool, figures_path: Path, extra: Sequence[str] = ()) -> list[str]:
    """The command line of one benchmark (this interpreter, its script, --quick, --figures-json)."""
    command = [sys.executable, str(SCRIPTS[name])]
    if quick:
        command.append("--quick")
    return [*command, "--figures-json", str(figures_path), *extra]


def machine() -> dict[str, str]:
    """What the numbers were measured on: cores, RAM, Python, OS, and the commit of the checkout."""
    ram = "?"
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB"
                    break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
        commit += " (with uncommitted changes)" if dirty.strip() else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "?"
    return {
        "cores": str(os.cpu_count() or "?"),
        "ram": ram,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "commit": commit,
    }


def markdown_report(
    sections: Sequence[Section], *, when: datetime, command: str, quick: bool, host: dict[str, str]
) -> str:
    """The whole RESULTS.md: when, where, how, the table and how to read it."""
    counts = summary(sections)
    total = sum(s.seconds or 0 for s in sections)
    durations = ", ".join(f"{s.name} {s.seconds or 0:.0f} s" for s in sections)
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/run_all.py` (do not edit by hand; run it again).",
        "",
        f"- Date: {when.strftime('%Y-%m-%d %H:%M')} UTC; took {total / 60:.1f} min ({durations})",
        f"- Machine: {host['cores']} cores, {host['ram']} RAM, Python {host['python']}, {host['os']}",
        f"- Commit: {host['commit']}",
        f"- Command: `{command}`" + (" (quick sizes)" if quick else ""),
        f"- Verdicts: {counts[OK]} ok, {counts[MISS]} missed, {counts[INFO]} without target, {counts[CRASH]} crashed",
        "",
        render_markdown(sections),
        "",
        "**ok**: met its target. **MISS**: missed it (shown, never fatal). **-**: no target, shown for context. "
        "**CRASH**: the benchmark stopped with an error. Ratios: `x floor` is the value against the unavoidable "
        "work (SHA-256 hashing, the fewest pages TikTok's limits allow); `x target` is value / target; "
        "`x of 24` is the share of TikTok's 24 audience calls a day.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, print the table, write the Markdown; 1 if a benchmark crashed, else 0."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every benchmark at its smaller sizes")
    parser.add_argument("--load", action="store_true", help="also run bench/load.py (long: see its docstring)")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join((*BENCHES, LOAD))}")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"Markdown file (default {RESULTS.name})")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    names = [*BENCHES, LOAD] if args.load else list(BENCHES)
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = set(wanted) - set(SCRIPTS)
        if unknown:
            parser.error(f"unknown benchmark(s) {sorted(unknown)}; known: {', '.join(SCRIPTS)}")
        names = wanted
    command = ".venv/bin/python bench/run_all.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    when = datetime.now(timezone.utc)
    sections = []
    with tempfile.TemporaryDirectory(prefix="tiktok-bench-") as tmp:
        for name in names:
            figures_path = Path(tmp) / f"{name}.json"
            print(f"== {name}", file=sys.stderr, flush=True)
            sections.append(
                run_bench(name, bench_command(name, quick=args.quick, figures_path=figures_path), figures_path)
            )
    print(render_text(sections))
    counts = summary(sections)
    print(f"\n{counts[OK]} ok, {counts[MISS]} missed, {counts[INFO]} without target, {counts[CRASH]} crashed")
    if not args.no_write:
        report = markdown_report(sections, when=when, command=command.strip(), quick=args.quick, host=machine())
        args.output.write_text(report, encoding="utf-8")
        print(f"wrote {args.output}")
    return 1 if counts[CRASH] else 0


if __name__ == "__main__":
    sys.exit(main())
