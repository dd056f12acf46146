"""Audience-sync helpers: fake members, the hashes TikTok should hold for them, the emulator's call counts."""

from __future__ import annotations

import hashlib

from airflow_provider_tiktok.emulator.testing import EmulatorServer


def sha256(text: str) -> str:
    """SHA-256 hex of a normalised identifier, computed independently of the provider's code."""
    return hashlib.sha256(text.encode()).hexdigest()


def emails(start: int, count: int) -> list[str]:
    """Fake members ``member<i>@example.com``."""
    return [f"member{i}@example.com" for i in range(start, start + count)]


def hashed(values: list[str]) -> list[str]:
    """The sorted hashes TikTok should hold for these (already normalised) e-mails."""
    return sorted(sha256(v) for v in values)


def audience_calls(emulator: EmulatorServer) -> dict[str, dict[str, int]]:
    """Audience calls per audience per UTC day, as the emulator counted them."""
    return emulator.state.stats()["audience_calls"]


def path_calls(emulator: EmulatorServer, suffix: str) -> int:
    """Requests the emulator answered on a path ending in ``suffix``."""
    return sum(n for path, n in emulator.state.stats()["calls"].items() if path.rstrip("/").endswith(suffix))
