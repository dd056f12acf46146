"""Security checks in a real Airflow: no raw PII or secret wherever the provider or Airflow writes, owner-only
state files, and a failing run's exception text as clean as a green run's.

The example DAGs run on their shipped data (fake shoppers and members), and ``tiktok_security_failing``
fails on purpose on extra fake values (odd case and spacing, foreign phones, invalid e-mails and phones,
external ids): once with a connection whose token TikTok refuses (40105), once with rows all older than
TikTok's 28 days; and its ``upload_mis_mapped`` task maps the e-mail column to the event name and the phones to
the description (issue 15): every row is rejected, the task succeeds and its summary (XCom, log line) lists no
e-mail as a custom event name. Then the test scans every file under AIRFLOW_HOME/logs (task logs, DAG processor
logs, the standalone/scheduler output; not ``emulator.out``, which stands for TikTok's own side and prints its
token on purpose), every XCom value (REST API), every file under AIRFLOW_HOME/tiktok (state, progress, ledgers,
snapshots, rejects, outputs; not ``tiktok/demo``, the example events DAG's staged copy of its raw input) and
the failing DAG's task logs as the REST API serves them, for every raw e-mail (as given, trimmed, lower-cased),
raw phone (as given, trimmed, E.164) and every token and app secret: zero hits. Hashes are fine. The raw
values come from the shipped data files and every CSV the e2e tests feed to DAGs (``pii_inputs``), the crash
tests' 70,000 identifiers included when they ran in the same session.
"""

from __future__ import annotations

import csv
import json
import re
import stat
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import phonenumbers
import pytest

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, APP_ID, APP_SECRET
from scripts.demo import example_dag_ids
from scripts.stack import DAGS_FOLDER, Stack
from tests.e2e.crash_dags.tiktok_crash import REVOKED_CONN_ID
from tests.helpers.e2e import PII_INPUTS

FAILING_DAG = "tiktok_security_failing"
#: The refused connection's secrets: scanned for like the emulator's token and app secret.
REVOKED_TOKEN = "tok-revoked-9f1e2d3c4b5a69788796a5b4"
REVOKED_SECRET = "sec-revoked-1a2b3c4d5e6f7a8b"
SECRETS = (ACCESS_TOKEN, APP_SECRET, REVOKED_TOKEN, REVOKED_SECRET)
#: Extra fake values beyond the shipped data: spacing and case, a plus address, foreign and odd phones.
EXTRA_EMAILS = (
    "  Ada.Lovelace.Sec@Example.COM  ",
    "GRACE.HOPPER.SEC@EXAMPLE.ORG",
    "alan+turing.sec@example.net",
    "Katherine.Johnson.Sec@Example.com ",
)
INVALID_EMAILS = ("broken.sec.address@", "no-at-sign.sec.example.com")
EXTRA_PHONES = ("+44 20 7946 0958", " (646) 555-0199 ", "+49 30 901820", "+1-303-555-0142")
INVALID_PHONES = ("(000) SEC-PHONE",)
EMAIL_RUN = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9.\-]+")
PHONE_RUN = re.compile(r"[+(]?\d[\d() .\-]{5,}\d")
#: Literal needles shorter than this would match innocent text.
MIN_LITERAL = 6


# ----------------------------------------------------------------------------------------------- scanner
@dataclass
class Needles:
    """Raw values that must never appear, in every form the brief names; :meth:`find` scans text for them.

    E-mails and phones are indexed so that a scan costs a regex pass plus dictionary look-ups, not one
    substring search per value: a raw e-mail occurs in a text only inside a maximal e-mail-shaped run whose
    local part ends with the value's local part and whose domain starts with its domain; a phone form occurs
    only inside a phone-shaped run whose digits contain the form's digits.
    """

    emails: dict[str, set[str]] = field(default_factory=dict)
    phones: dict[str, set[str]] = field(default_factory=dict)
    literals: set[str] = field(default_factory=set)
    count: int = 0

    def add_email(self, raw: str) -> None:
        """An e-mail as given, trimmed and lower-cased (a lower-cased search on lower-cased text finds all)."""
        value = raw.strip().lower()
        self.count += 1
        if EMAIL_RUN.fullmatch(value):
            local, _, domain = value.partition("@")
            self.emails.setdefault(local, set()).add(domain)
        else:
            self.add_literal(raw)

    def add_phone(self, raw: str, region: str = "US") -> None:
        """A phone as given, trimmed, and in E.164 (with and without its ``+``), computed with phonenumbers."""
        self.count += 1
        forms = {raw.strip().lower()}
        try:
            number = phonenumbers.parse(raw, region)
            if phonenumbers.is_possible_number(number):
                e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                forms |= {e164, e164.lstrip("+")}
        except phonenumbers.NumberParseException:
            pass
        for form in forms:
            digits = re.sub(r"\D", "", form)
            if len(digits) >= 7 and PHONE_RUN.fullmatch(form):
                self.phones.setdefault(digits, set()).add(form)
            else:
                self.add_literal(form)

    def add_literal(self, raw: str) -> None:
        """Any other value, searched as a plain (case-insensitive) substring."""
        value = raw.strip().lower()
        if len(value) >= MIN_LITERAL:
            self.literals.add(value)

    def find(self, text: str) -> set[str]:
        """The needles occurring in ``text`` (also after URL-decoding, when it holds escapes)."""
        low = text.lower()
        hits = self._find(low)
        if "%" in low:
            hits |= self._find(unquote(low))
        return hits

    def _find(self, low: str) -> set[str]:
        hits: set[str] = set()
        for match in EMAIL_RUN.finditer(low):
            local, _, domain = match.group().partition("@")
            for start in range(len(local)):
                for needle_domain in self.emails.get(local[start:], ()):
                    if domain.startswith(needle_domain):
                        hits.add(f"{local[start:]}@{needle_domain}")
        lengths = {len(digits) for digits in self.phones}
        for match in PHONE_RUN.finditer(low):
            run = match.group()
            digits = re.sub(r"\D", "", run)
            for length in lengths:
                for start in range(len(digits) - length + 1):
                    hits.update(form for form in self.phones.get(digits[start : start + length], ()) if form in run)
        hits.update(literal for literal in self.literals if literal in low)
        return hits


def csv_identifiers(path: Path) -> Iterator[tuple[str, str]]:
    """(kind, raw value) of every identifier cell of a CSV: ``email``, ``phone`` or ``literal`` (external ids)."""
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for column, value in row.items():
                if not value or not value.strip():
                    continue
                name = column.lower()
                if "email" in name:
                    yield "email", value
                elif "phone" in name:
                    yield "phone", value
                elif name in ("customer_id", "external_id") and "SEC" in value:
                    yield "literal", value


def build_needles(sources: Iterable[Path], secrets: Iterable[str]) -> Needles:
    """Needles from the identifier columns of ``sources`` and the given secrets."""
    needles = Needles()
    for source in sources:
        for kind, value in csv_identifiers(source):
            {"email": needles.add_email, "phone": needles.add_phone, "literal": needles.add_literal}[kind](value)
    for secret in secrets:
        needles.count += 1
        needles.add_literal(secret)
    return needles


@pytest.mark.unit
def test_the_scanner_finds_every_form_and_ignores_hashes():
    needles = Needles()
    needles.add_email("  Jack.Baker1@Example.com ")
    needles.add_phone("(415) 555-1476")
    needles.add_phone("+44 20 7946 0958")
    needles.add_email("broken.sec.address@")
    needles.add_literal(ACCESS_TOKEN)
    text = (
        '{"event":"sent to jack.baker1@example.com","x":"JACK.BAKER1@EXAMPLE.COM","p":"tel (415) 555-1476",'
        '"e":"+14155551476","uk":"+442079460958","bad":"Broken.Sec.Address@","t":"Emulator-Access-Token"}'
    )
    assert needles.find(text) == {
        "jack.baker1@example.com",
        "(415) 555-1476",
        "+14155551476",
        "14155551476",
        "+442079460958",
        "442079460958",
        "broken.sec.address@",
        ACCESS_TOKEN,
    }
    assert needles.find("xjack.baker1@example.comx and 14155551476 and mailto:jack.baker1%40example.com") == {
        "jack.baker1@example.com",
        "14155551476",
    }
    clean = "sha256 " + "0" * 10 + "4155551476" + "ab" * 30 + " jack.baker2@example.com 415-555-1477 +4420794609"
    assert needles.find(clean) == set()


# ------------------------------------------------------------------------------------------- the runs
def write_csv(path: Path, header: list[str], rows: Iterable[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def mis_mapped_rows(now: datetime, token: str) -> Iterator[list[Any]]:
    """Recent events whose e-mails (new ones, and the extra fake ones) the DAG's field_map sends to the event
    name, and whose phones (valid ones in every written form) to the description."""
    emails = [*EXTRA_EMAILS, *(f"Mis.Mapped{n}.{token}@Example.com" for n in range(6))]
    phones = [*EXTRA_PHONES, "+14155550123", "(212) 555-0147"]
    for n in range(20):
        moment = (now - timedelta(hours=1, minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        email, phone = emails[n % len(emails)], phones[n % len(phones)]
        yield ["Purchase", moment, email, phone, f"CUST-SEC-M{n:04d}", f"https://shop.example.com/m/{n}", "9.5"]


def security_inputs(home: Path, token: str) -> dict[str, str]:
    """The failing DAG's inputs: events (recent and 300 days old), members, with the extra fake values, and the
    mis-mapped events (e-mails in the column mapped to event)."""
    folder = home / PII_INPUTS
    folder.mkdir(exist_ok=True)
    header = ["event", "event_time", "customer_email", "customer_phone", "customer_id", "landing_url", "value"]
    emails = [*EXTRA_EMAILS, *INVALID_EMAILS]
    phones = [*EXTRA_PHONES, *INVALID_PHONES]

    def rows(now: datetime) -> Iterator[list[Any]]:
        for n in range(30):
            moment = (now - timedelta(hours=1, minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
            email, phone = emails[n % len(emails)], phones[n % len(phones)]
            yield ["Purchase", moment, email, phone, f"CUST-SEC-{n:05d}", f"https://shop.example.com/s/{n}", "9.5"]

    now = datetime.now(timezone.utc)
    members = [[email] for email in emails] + [[f"Sec.Member{n}.{token}@Example.com"] for n in range(40)]
    return {
        "events": str(write_csv(folder / f"security_events_{token}.csv", header, rows(now))),
        "stale_events": str(write_csv(folder / f"security_stale_{token}.csv", header, rows(now - timedelta(300)))),
        "members": str(write_csv(folder / f"security_members_{token}.csv", ["email"], members)),
        "mis_mapped_events": str(
            write_csv(
                folder / f"security_mis_mapped_{token}.csv",
                ["event_name", *header[1:]],
                mis_mapped_rows(now, token),
            )
        ),
    }


@dataclass
class Corpus:
    """Everything scanned: (label, text) pairs, with the number of files and bytes behind them."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    bytes: int = 0

    def add_file(self, path: Path, label_root: Path) -> None:
        data = path.read_bytes()
        self.files += 1
        self.bytes += len(data)
        self.texts.append((str(path.relative_to(label_root)), data.decode("utf-8", "replace")))

    def add_text(self, label: str, text: str) -> None:
        self.bytes += len(text.encode("utf-8"))
        self.texts.append((label, text))


@dataclass
class SecurityRun:
    """The finished runs and what the scan needs from them."""

    run_id: str
    dag_ids: list[str]
    inputs: dict[str, str]


@pytest.fixture(scope="module")
def security_run(stack: Stack) -> SecurityRun:
    """Run each example DAG once and the failing DAG once (its tasks fail by design); wait for all."""
    token = uuid.uuid4().hex[:10]
    run_id = f"security_{token}"
    inputs = security_inputs(stack.home, token)
    body = {
        "connection_id": REVOKED_CONN_ID,
        "conn_type": "tiktok_ads",
        "host": stack.emulator_url,
        "password": REVOKED_TOKEN,
        "extra": json.dumps({"app_id": APP_ID, "app_secret": REVOKED_SECRET, "advertiser_id": ADVERTISER_A}),
    }
    stack.api("DELETE", f"/api/v2/connections/{REVOKED_CONN_ID}", ok=(204, 404))
    stack.api("POST", "/api/v2/connections", json=body)
    dag_ids = [*example_dag_ids(), FAILING_DAG]
    stack.wait_for_dags(dag_ids)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for dag_id in dag_ids:
        stack.unpause(dag_id)
        stack.trigger(dag_id, run_id, now, conf=inputs if dag_id == FAILING_DAG else None)
    for dag_id in dag_ids:
        (run,) = stack.wait_for_runs(dag_id, [run_id], timeout=300)
        assert run["state"] == ("failed" if dag_id == FAILING_DAG else "success"), dag_id
    return SecurityRun(run_id, dag_ids, inputs)


def xcom_values(stack: Stack) -> Iterator[tuple[str, str]]:
    """Every XCom value of every run in the stack, as stored (label, JSON text)."""
    entries = stack.api("GET", "/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries", params={"limit": 1000})[
        "xcom_entries"
    ]
    for entry in entries:
        path = (
            f"/api/v2/dags/{entry['dag_id']}/dagRuns/{quote(entry['run_id'], safe='')}/taskInstances/"
            f"{entry['task_id']}/xcomEntries/{quote(entry['key'], safe='')}"
        )
        value = stack.api("GET", path, params={"map_index": entry["map_index"]})["value"]
        yield f"xcom {entry['dag_id']}/{entry['run_id']}/{entry['task_id']}/{entry['key']}", json.dumps(value)


def failed_task_logs(stack: Stack, run: SecurityRun) -> dict[str, str]:
    """The failing run's task logs (try 1) as the REST API serves them to the UI."""
    tasks = stack.api("GET", f"/api/v2/dags/{FAILING_DAG}/dagRuns/{run.run_id}/taskInstances")["task_instances"]
    logs = {}
    for task in tasks:
        path = f"/api/v2/dags/{FAILING_DAG}/dagRuns/{run.run_id}/taskInstances/{task['task_id']}/logs/1"
        logs[task["task_id"]] = json.dumps(stack.api("GET", path, params={"full_content": "true"})["content"])
    return logs


def provider_files(home: Path) -> list[Path]:
    """Every file under AIRFLOW_HOME/tiktok (the provider's default root for state, rejects and outputs)."""
    return sorted(p for p in (home / "tiktok").rglob("*") if p.is_file())


@pytest.mark.e2e
def test_no_raw_pii_or_secret_in_logs_xcom_state_rejects_or_exceptions(stack, security_run, capsys):
    home = stack.home
    sources = [*sorted((DAGS_FOLDER / "data").glob("*.csv")), *sorted((home / PII_INPUTS).glob("*.csv"))]
    needles = build_needles(sources, SECRETS)
    # Positive control: the scanner finds the raw values in the very files they came from.
    shipped_members = DAGS_FOLDER / "data" / "tiktok_audience_members.csv"
    expected = {value.strip().lower() for _, value in csv_identifiers(shipped_members)}
    assert len(expected) == 1600
    assert needles.find(shipped_members.read_text(encoding="utf-8")) == expected
    own = needles.find(Path(security_run.inputs["events"]).read_text(encoding="utf-8"))
    assert {"+44 20 7946 0958", "ada.lovelace.sec@example.com", "broken.sec.address@", "cust-sec-00007"} <= own
    mis_mapped = needles.find(Path(security_run.inputs["mis_mapped_events"]).read_text(encoding="utf-8"))
    token = security_run.run_id.removeprefix("security_")
    assert {f"mis.mapped0.{token}@example.com", "+14155550123", "(212) 555-0147"} <= mis_mapped

    corpus = Corpus()
    for path in sorted(p for p in (home / "logs").rglob("*") if p.is_file()):
        if path.name != "emulator.out":
            corpus.add_file(path, home)
    for path in provider_files(home):
        if (home / "tiktok" / "demo") not in path.parents:
            corpus.add_file(path, home)
    xcoms = list(xcom_values(stack))
    for label, text in xcoms:
        corpus.add_text(label, text)
    failures = failed_task_logs(stack, security_run)
    for task_id, text in failures.items():
        corpus.add_text(f"REST log {FAILING_DAG}/{task_id}", text)

    # The exception texts really are in the corpus: TikTok refused the token, and the stale rows failed the task.
    assert "40105" in failures["upload_with_revoked_token"]
    assert "40105" in failures["sync_with_revoked_token"]
    assert "30 of 30 events were rejected" in failures["upload_stale_rows"]
    # The mis-mapped upload succeeded with every row rejected for the e-mail in its event name, none listed.
    mis_mapped_summary = stack.xcom(FAILING_DAG, security_run.run_id, "upload_mis_mapped")
    assert (mis_mapped_summary["received"], mis_mapped_summary["sent"], mis_mapped_summary["rejected"]) == (20, 0, 20)
    assert mis_mapped_summary["nonstandard_event_names"] == {}
    assert list(mis_mapped_summary["rejected_by_reason"]) == [
        "event: looks like an e-mail address: personal data must not be sent in clear; map the column to email"
    ]
    assert "looks like an e-mail address" in failures["upload_mis_mapped"]
    assert any(label.startswith("xcom tiktok_audience_sync/") for label, _ in xcoms)
    rejects = [p for p in provider_files(home) if "rejects" in p.parts]
    assert rejects, "the failing run must have written rejects files"

    hits = {label: sorted(found)[:5] for label, text in corpus.texts if (found := needles.find(text))}
    with capsys.disabled():
        print(
            f"\nsecurity scan: {needles.count} raw values, {corpus.files} files + {len(corpus.texts) - corpus.files} "
            f"XCom values and REST logs, {corpus.bytes:,} bytes, {len(hits)} with hits"
        )
    assert not hits, f"raw PII or secrets found: {hits}"


@pytest.mark.e2e
def test_state_rejects_and_output_files_are_owner_only(stack, security_run):
    files = provider_files(stack.home)
    kinds = {p.relative_to(stack.home / "tiktok").parts[0] for p in files}
    assert {"state", "rejects", "ad_metrics", "ratelimit"} <= kinds
    assert any(p.name == "ledger.json" for p in files)
    assert any("snapshots" in p.parts for p in files)
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in files if stat.S_IMODE(p.stat().st_mode) != 0o600}
    assert not loose, f"files readable by others: {loose}"


@pytest.mark.e2e
def test_every_folder_the_provider_creates_is_owner_only(stack, security_run):
    """Every folder under AIRFLOW_HOME/tiktok, parents included: an audience's state folder first created as the
    parent of its rejects file, too."""
    root = stack.home / "tiktok"
    folders = [root, *sorted(p for p in root.rglob("*") if p.is_dir())]
    assert any("rejects" in p.parts and "audiences" in p.parts for p in folders)
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in folders if stat.S_IMODE(p.stat().st_mode) != 0o700}
    assert not loose, f"folders open to others: {loose}"
