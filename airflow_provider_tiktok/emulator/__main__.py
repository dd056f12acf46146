"""``python -m airflow_provider_tiktok.emulator``: serve the TikTok API emulator until interrupted.

Example: ``python -m airflow_provider_tiktok.emulator --port 8765 --seed 42 \
--fault 'path=event/track,kind=code,code=40100,rate=0.2' --latency-ms 30 --qps 10``
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date, datetime

import uvicorn

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, API_PREFIX, DEFAULT_SEED
from airflow_provider_tiktok.emulator.app import create_app
from airflow_provider_tiktok.emulator.server import uvicorn_config
from airflow_provider_tiktok.emulator.state import EmulatorState


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line: where to listen, the seed, the clock, faults and limits."""
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_tiktok.emulator", description="Local TikTok API for Business (v1.3) emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the synthetic data (default 42)")
    parser.add_argument("--anchor", type=date.fromisoformat, help="day the seeded flights end around (YYYY-MM-DD)")
    parser.add_argument("--now", type=datetime.fromisoformat, help="freeze the emulator clock at this ISO instant")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="fault rule, e.g. 'path=event/track,kind=code,code=40100,rate=0.2' (repeatable)",
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="latency added to every API answer")
    parser.add_argument("--qps", type=float, help="app requests per second before 40100 and a lock")
    parser.add_argument("--per-minute", type=int, help="app requests per minute before 40100 and a lock")
    parser.add_argument("--lock-seconds", type=float, default=300.0, help="lock after a rate-limit breach")
    parser.add_argument("--max-report-days", type=int, help="answer 40067 for report windows longer than this")
    parser.add_argument(
        "--event-errors-without-index",
        action="store_true",
        help="event validation messages name the field without the row index",
    )
    parser.add_argument(
        "--partial-success-events",
        action="store_true",
        help="accept the good events of a batch and answer 20001 with the failed ones",
    )
    parser.add_argument(
        "--receipts-only",
        action="store_true",
        help="keep only receipt counts per event_id, not event bodies (load runs of millions of events)",
    )
    parser.add_argument("--file-path-ttl", type=float, help="seconds an uploaded file_path stays usable")
    parser.add_argument("--max-upload-bytes", type=int, help="largest accepted customer file")
    parser.add_argument("--replace-processing-seconds", type=float, help="how long a REPLACE keeps processing")
    parser.add_argument(
        "--match-rate",
        type=float,
        help="share (0..1) of customer-file ids that match a TikTok user and count in cover_num (default 1.0)",
    )
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    return parser.parse_args(argv)


def build_state(args: argparse.Namespace) -> EmulatorState:
    """An emulator state configured from the parsed command line."""
    state = EmulatorState(args.seed, now=args.now, anchor=args.anchor)
    for spec in args.fault:
        state.faults.add(spec)
    state.faults.latency_ms = args.latency_ms
    state.faults.set_rate_limit(args.qps, args.per_minute, args.lock_seconds)
    state.faults.max_report_days = args.max_report_days
    settings = state.settings
    settings.event_errors_without_index = args.event_errors_without_index
    settings.partial_success_events = args.partial_success_events
    settings.keep_event_bodies = not args.receipts_only
    if args.file_path_ttl is not None:
        settings.file_path_ttl_seconds = args.file_path_ttl
    if args.max_upload_bytes is not None:
        settings.max_upload_bytes = args.max_upload_bytes
    if args.replace_processing_seconds is not None:
        settings.replace_processing_seconds = args.replace_processing_seconds
    if args.match_rate is not None:
        settings.update({"match_rate": args.match_rate})  # checks the range
    return state


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    args = parse_args(argv)
    try:
        state = build_state(args)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    print(
        f"TikTok API emulator on http://{args.host}:{args.port}{API_PREFIX}/ (seed {args.seed}, "
        f"Access-Token {ACCESS_TOKEN})",
        flush=True,
    )
    uvicorn.Server(uvicorn_config(create_app(state), args.host, args.port, args.log_level)).run()


if __name__ == "__main__":
    main()
