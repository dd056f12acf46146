"""Benchmark of the cohort sync: the 10M-member diff, audience calls per sync, a 1M-member first sync.

    .venv/bin/python bench/audience.py              # the issue's sizes: 10M diff, 1M first sync
    .venv/bin/python bench/audience.py --quick      # 1M diff, 100k first sync (about a minute)

Prints measured values next to the targets (60 s and 1 GB for the diff, two audience calls per sync);
it never fails on them. The diff runs in a child process without Airflow, so its peak RSS is the diff's
own; the syncs run against the emulator started as a separate process (``python -m ...emulator``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.figures import Figure, Section, at_most, exactly, info, render_text, vs_peer, write_json
from bench.measure import peak_rss_mb

TIKTOK_DAILY_CALLS = 24
DIFF_TARGET_SECONDS = 60.0
DIFF_TARGET_RSS_MB = 1024.0
CALLS_TARGET = 2


def hashed_line(i: int) -> str:
    """The SHA-256 line of fake member ``i`` (what the sync keeps for ``member<i>@example.com``)."""
    return hashlib.sha256(b"member%d@example.com" % i).hexdigest() + "\n"


# ------------------------------------------------------------------------------------------- diff
def prepare_diff(work: Path, size: int, churn: float) -> None:
    """Write the accepted snapshot of members 0..size-1 (sorted) and the new cohort, shifted by ``churn``:
    the first ``churn*size`` members left and as many new ones joined, in hash (random) order."""
    from airflow_provider_tiktok.audiences import snapshots

    moved = int(size * churn)
    old_input = work / "old-input.txt"
    with open(old_input, "w") as old, open(work / "new-input.txt", "w") as new:
        for i in range(size + moved):
            line = hashed_line(i)
            if i < size:
                old.write(line)
            if i >= moved:
                new.write(line)
    snapshots.external_sort(snapshots.iter_lines(old_input), work / "snapshot.txt", work)
    old_input.unlink()


def diff_child(work: Path) -> None:
    """In a fresh process: sort the new cohort externally and diff it against the snapshot, as a sync does."""
    from airflow_provider_tiktok.audiences import plan as audience_plan
    from airflow_provider_tiktok.audiences import snapshots

    started = time.perf_counter()
    size = snapshots.external_sort(snapshots.iter_lines(work / "new-input.txt"), work / "cohort.txt", work)
    sorted_at = time.perf_counter()
    per_file = audience_plan.ids_per_file(size)
    diff = snapshots.diff_to_files(
        snapshots.iter_lines(work / "snapshot.txt"), snapshots.iter_lines(work / "cohort.txt"), work, per_file
    )
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "cohort": size,
                "sort_s": sorted_at - started,
                "diff_s": done - sorted_at,
                "total_s": done - started,
                "added": diff.added_count,
                "removed": diff.removed_count,
                "files": len(diff.added) + len(diff.removed),
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def bench_diff(size: int, churn: float, out: Callable[[str], None] = print) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-audience-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        prepare_diff(work, size, churn)
        out(f"  (prepared {size:,} + {int(size * churn):,} hashed ids in {time.perf_counter() - started:.0f} s)")
        out = subprocess.run(
            [sys.executable, __file__, "--diff-child", str(work)], check=True, capture_output=True, text=True
        ).stdout
        return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------ emulator syncs
class Emulator:
    """The emulator as a child process on a free port, for syncs measured without sharing its GIL."""

    def __enter__(self) -> Emulator:
        import socket

        import requests

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_tiktok.emulator", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{self.url}/_emulator/stats", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.2)

    def stats(self) -> dict:
        import requests

        return requests.get(f"{self.url}/_emulator/stats", timeout=30).json()

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def connect(emulator: Emulator) -> None:
    from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, APP_ID, APP_SECRET

    extra = {"app_id": APP_ID, "app_secret": APP_SECRET, "advertiser_id": ADVERTISER_A, "rate_limit": "1000"}
    os.environ["AIRFLOW_CONN_TIKTOK_DEFAULT"] = json.dumps(
        {"conn_type": "tiktok_ads", "host": emulator.url, "password": ACCESS_TOKEN, "extra": extra}
    )


def members(start: int, count: int) -> Iterator[tuple[int, dict]]:
    """Raw fake e-mails as numbered records (what the readers yield)."""
    for row, i in enumerate(range(start, start + count), start=1):
        yield row, {"email": f"Member{i}@Example.com "}


def bench_first_sync(emulator: Emulator, state: Path, size: int) -> dict:
    from airflow_provider_tiktok.audiences.cohort import AudienceSyncSpec
    from airflow_provider_tiktok.audiences.sync import sync_audience
    from airflow_provider_tiktok.emulator import ADVERTISER_A
    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

    hook = TikTokAdsHook()
    spec = AudienceSyncSpec(
        advertiser_id=ADVERTISER_A, id_type="email", audience_name=f"Bench {size}", state_uri=str(state)
    )
    started = time.perf_counter()
    summary = sync_audience(hook, spec, members(0, size))
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "summary": summary, "http_requests": hook.api_calls}


def bench_calls_per_sync(emulator: Emulator, state: Path) -> list[tuple[str, list[str]]]:
    """A cohort of 20k through the changes a schedule meets; the actions each sync sent."""
    from airflow_provider_tiktok.audiences.cohort import AudienceSyncSpec
    from airflow_provider_tiktok.audiences.sync import sync_audience
    from airflow_provider_tiktok.emulator import ADVERTISER_A
    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

    steps = [
        ("first sync", 0, 20_000),
        ("unchanged", 0, 20_000),
        ("200 joined", 0, 20_200),
        ("300 left", 300, 19_900),
        ("churn, REPLACE free", 600, 19_900),
        ("churn, REPLACE processing", 900, 19_900),
        ("shrink below 1,000", 19_500, 900),
    ]
    seen = []
    for label, start, count in steps:
        spec = AudienceSyncSpec(
            advertiser_id=ADVERTISER_A,
            id_type="email",
            audience_name="Bench calls",
            state_uri=str(state),
            replace_processing=timedelta(minutes=30),
        )
        if label == "churn, REPLACE free":  # pretend the earlier REPLACE finished long ago
            spec = AudienceSyncSpec(**{**spec.__dict__, "replace_processing": timedelta(0)})
        seen.append((label, sync_audience(TikTokAdsHook(), spec, members(start, count))["actions"]))
    return seen


# --------------------------------------------------------------------------------------------- main
def run(
    quick: bool = False,
    *,
    diff_size: int | None = None,
    churn: float = 0.01,
    first_sync: int | None = None,
    out: Callable[[str], None] = print,
) -> list[Figure]:
    """Measure the diff, the calls per sync and a first sync; print details, return the figures."""
    diff_size = diff_size or (1_000_000 if quick else 10_000_000)
    first_size = first_sync or (100_000 if quick else 1_000_000)

    out(f"1. diff of a {diff_size:,}-member snapshot against a cohort with {churn:.0%} churn")
    diff = bench_diff(diff_size, churn, out)
    out(
        f"   time {diff['total_s']:.1f} s (sort {diff['sort_s']:.1f} s + diff {diff['diff_s']:.1f} s), "
        f"target {DIFF_TARGET_SECONDS:.0f} s -> {diff['total_s'] / DIFF_TARGET_SECONDS:.2f} of the target"
    )
    out(
        f"   peak RSS {diff['peak_rss_mb']:.0f} MB, target {DIFF_TARGET_RSS_MB:.0f} MB -> "
        f"{diff['peak_rss_mb'] / DIFF_TARGET_RSS_MB:.2f} of the target"
    )
    out(f"   +{diff['added']:,} / -{diff['removed']:,} ids in {diff['files']} upload file(s)")

    import airflow.sdk  # noqa: F401  (imported before any timing: about 5 s)

    with tempfile.TemporaryDirectory(prefix="bench-audience-state-") as state, Emulator() as emulator:
        connect(emulator)
        out("2. audience calls per sync (mirror mode, 20k members)")
        seen = bench_calls_per_sync(emulator, Path(state))
        for label, actions in seen:
            out(f"   {label:<27} {len(actions)} call(s) {actions}")
        most = max(len(actions) for _, actions in seen)
        out(f"   at most {most} call(s) per sync, target {CALLS_TARGET} -> {most / CALLS_TARGET:.2f} of the target")

        out(f"3. first sync of {first_size:,} raw e-mails against the emulator (hash, sort, upload, create)")
        first = bench_first_sync(emulator, Path(state), first_size)
        summary = first["summary"]
        uploads = emulator.stats()["calls"].get("/open_api/v1.3/dmp/custom_audience/file/upload/", 0)
        out(
            f"   {first['seconds']:.1f} s total, {first_size / first['seconds']:,.0f} members/s; "
            f"actions {summary['actions']}, {summary['audience_calls_used_today']} audience call(s), "
            f"{first['http_requests']} HTTP requests, {uploads} file uploads in all (steps 2 and 3)"
        )
    moved = int(diff_size * churn)
    return [
        at_most(f"diff of {diff_size:,} members at {churn:.0%} churn", diff["total_s"], DIFF_TARGET_SECONDS, "s"),
        at_most(f"peak RSS of the {diff_size:,}-member diff", diff["peak_rss_mb"], DIFF_TARGET_RSS_MB, "MB"),
        exactly("ids added + removed by the diff", diff["added"] + diff["removed"], 2 * moved),
        vs_peer(
            "audience calls per sync vs 24 a day",
            most,
            CALLS_TARGET,
            TIKTOK_DAILY_CALLS,
            "of 24",
            "calls",
            note=f"worst of {len(seen)} schedule steps",
        ),
        info(f"first sync of {first_size:,} raw e-mails", first["seconds"], "s"),
        info("members/s of that first sync", first_size / first["seconds"], "/s"),
        exactly("audience calls of that first sync", len(summary["actions"]), 1),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1M diff and a 100k first sync")
    parser.add_argument("--diff-size", type=int, help="members in the diffed snapshot (default 10M)")
    parser.add_argument("--churn", type=float, default=0.01, help="fraction that left and joined (default 1%%)")
    parser.add_argument("--first-sync", type=int, help="members of the first sync (default 1M)")
    parser.add_argument("--figures-json", metavar="PATH", help="also write the figures as JSON (for run_all.py)")
    parser.add_argument("--diff-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.diff_child:
        diff_child(Path(args.diff_child))
        return
    figures = run(args.quick, diff_size=args.diff_size, churn=args.churn, first_sync=args.first_sync)
    print(render_text([Section("audience", figures)]))
    if args.figures_json:
        write_json(args.figures_json, figures)


if __name__ == "__main__":
    main()
