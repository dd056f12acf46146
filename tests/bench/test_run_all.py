"""``bench/run_all.py`` with stand-in benchmark scripts (tiny processes, no Airflow): figures collected from
each process, a miss shown but not fatal, a crash marked and turned into exit status 1, the Markdown file."""

from __future__ import annotations

import io
import sys
import textwrap
from pathlib import Path

import pytest

from bench import run_all
from bench.figures import read_json

#: A stand-in benchmark: writes two figures (one missing its target) to --figures-json, or crashes with --crash.
FAKE_BENCH = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {repo!r})
    from bench.figures import at_most, exactly, write_json

    args = sys.argv[1:]
    print("measuring", "quick" if "--quick" in args else "full", flush=True)
    if {crash!r}:
        print("Traceback (most recent call last):", file=sys.stderr)
        print("MemoryError: out of memory at 10M", file=sys.stderr)
        sys.exit(3)
    path = args[args.index("--figures-json") + 1]
    size = 10 if "--quick" in args else 1000
    requests = exactly(f"requests for {{size}} events", size // 10, size // 10)
    write_json(path, [requests, at_most("RSS", 310.0, 300.0, "MB")])
    """
)


def fake_bench(folder: Path, name: str, *, crash: bool = False) -> Path:
    path = folder / f"{name}.py"
    path.write_text(FAKE_BENCH.format(repo=str(run_all.REPO), crash=crash), encoding="utf-8")
    return path


@pytest.mark.integration
def test_run_bench_collects_figures_and_streams_output(tmp_path: Path) -> None:
    script = fake_bench(tmp_path, "events")
    log = io.StringIO()
    section = run_all.run_bench(
        "events", [sys.executable, str(script), "--figures-json", str(tmp_path / "f.json")], tmp_path / "f.json", log
    )
    assert section.error is None
    assert [(fig.name, fig.value, fig.ok) for fig in section.figures] == [
        ("requests for 1000 events", 100, True),
        ("RSS", 310.0, False),
    ]
    assert log.getvalue() == "[events] measuring full\n"
    assert section.seconds is not None
    assert section.seconds > 0


@pytest.mark.integration
def test_run_bench_reports_a_crash_with_its_last_line(tmp_path: Path) -> None:
    script = fake_bench(tmp_path, "audience", crash=True)
    figures = tmp_path / "f.json"
    section = run_all.run_bench(
        "audience", [sys.executable, str(script), "--figures-json", str(figures)], figures, io.StringIO()
    )
    assert section.figures == []
    assert section.error == "exit 3: MemoryError: out of memory at 10M"


@pytest.mark.unit
def test_bench_command_passes_quick_and_the_figures_file(tmp_path: Path) -> None:
    command = run_all.bench_command("ad_metrics", quick=True, figures_path=tmp_path / "a.json")
    assert command == [
        sys.executable,
        str(run_all.BENCH_DIR / "ad_metrics.py"),
        "--quick",
        "--figures-json",
        str(tmp_path / "a.json"),
    ]
    assert "--quick" not in run_all.bench_command("events", quick=False, figures_path=tmp_path / "e.json")


@pytest.fixture
def fake_benches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every benchmark replaced by the stand-in; audience and load crash."""
    scripts = {name: fake_bench(tmp_path, name, crash=name in ("audience", "load")) for name in run_all.SCRIPTS}
    monkeypatch.setattr(run_all, "SCRIPTS", scripts)
    return tmp_path


@pytest.mark.integration
def test_misses_are_marked_but_exit_zero(fake_benches: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = fake_benches / "RESULTS.md"
    assert run_all.main(["--quick", "--only", "events,ad_metrics", "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "events: requests for 10 events" in printed
    assert "ad_metrics: RSS" in printed
    assert printed.count("MISS") == 2
    assert "2 ok, 2 missed, 0 without target, 0 crashed" in printed
    report = output.read_text(encoding="utf-8")
    assert "| events: RSS | 310 MB | <= 300 MB | 1.03x target | **MISS** |" in report
    assert "- Command: `.venv/bin/python bench/run_all.py --quick --only events,ad_metrics" in report
    assert "(quick sizes)" in report
    assert "cores, " in report
    assert "Python " in report
    assert "RAM" in report


@pytest.mark.integration
def test_a_crash_fails_the_run_and_is_marked(fake_benches: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = fake_benches / "RESULTS.md"
    assert run_all.main(["--output", str(output)]) == 1
    printed = capsys.readouterr().out
    assert "audience: benchmark crashed" in printed
    assert "CRASH" in printed
    assert "events: requests for 1000 events" in printed  # the others still ran
    assert "load: " not in printed  # only with --load
    assert "**CRASH**" in output.read_text(encoding="utf-8")


@pytest.mark.integration
def test_load_runs_only_when_asked(fake_benches: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_all.main(["--load", "--only", "events,load", "--no-write"]) == 1
    printed = capsys.readouterr().out
    assert "load: benchmark crashed" in printed
    assert not (fake_benches / "RESULTS.md").exists()


@pytest.mark.unit
def test_unknown_benchmark_is_a_usage_error(fake_benches: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_all.main(["--only", "events,speed", "--no-write"])
    assert exit_info.value.code == 2


@pytest.mark.integration
def test_read_json_of_a_stand_in(tmp_path: Path) -> None:
    """The stand-in writes what run_all reads (guards the fixture itself)."""
    script = fake_bench(tmp_path, "x")
    import subprocess

    subprocess.run(
        [sys.executable, str(script), "--quick", "--figures-json", str(tmp_path / "x.json")],
        check=True,
        capture_output=True,
    )
    assert [fig.value for fig in read_json(tmp_path / "x.json")] == [1, 310.0]
