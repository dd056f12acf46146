"""External sort, merge diff and upload files of hashed ids, checked against plain Python sets."""

from __future__ import annotations

import hashlib
import random
import stat
from pathlib import Path

import pytest

from airflow_provider_tiktok.audiences import snapshots

pytestmark = pytest.mark.unit


def ids(start: int, count: int) -> list[str]:
    """Hashed id lines for users ``start``..``start+count-1``."""
    return [hashlib.sha256(f"user{i}@example.com".encode()).hexdigest() + "\n" for i in range(start, start + count)]


def test_external_sort_dedupes_across_runs(tmp_path: Path) -> None:
    lines = ids(0, 2500) + ids(1000, 500) + ids(2400, 300)  # duplicates inside and across chunks
    random.Random(7).shuffle(lines)
    dest = tmp_path / "sorted.txt"
    count = snapshots.external_sort(lines, dest, tmp_path, chunk_size=333)
    expected = sorted(set(lines))
    assert count == len(expected) == 2700
    assert dest.read_text() == "".join(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sorted.txt"]  # runs removed
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600


def test_sorted_runs_are_sorted_chunks(tmp_path: Path) -> None:
    lines = ids(0, 10)
    runs = snapshots.sorted_runs(lines, tmp_path, chunk_size=4)
    assert [len(p.read_text().splitlines()) for p in runs] == [4, 4, 2]
    for run, chunk in zip(runs, (lines[0:4], lines[4:8], lines[8:10]), strict=True):
        assert run.read_text() == "".join(sorted(chunk))


def test_external_sort_of_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "empty.txt"
    assert snapshots.external_sort([], dest, tmp_path) == 0
    assert dest.read_text() == ""


def test_compare_sorted_matches_set_algebra() -> None:
    rng = random.Random(3)
    universe = ids(0, 400)
    old = sorted(rng.sample(universe, 250))
    new = sorted(rng.sample(universe, 220))
    out = list(snapshots.compare_sorted(old, new))
    assert [line for line, _ in out] == sorted(set(old) | set(new))
    assert {line for line, where in out if where == snapshots.OLD} == set(old) - set(new)
    assert {line for line, where in out if where == snapshots.NEW} == set(new) - set(old)
    assert {line for line, where in out if where == snapshots.BOTH} == set(old) & set(new)


@pytest.mark.parametrize(("old", "new"), [([], []), (["a\n"], []), ([], ["a\n"]), (["a\n", "c\n"], ["b\n", "d\n"])])
def test_compare_sorted_edges(old: list[str], new: list[str]) -> None:
    out = list(snapshots.compare_sorted(old, new))
    expected = sorted(
        [(x, snapshots.BOTH if x in new else snapshots.OLD) for x in old]
        + [(x, snapshots.NEW) for x in new if x not in old]
    )
    assert out == expected


def test_upload_files_split_and_sign(tmp_path: Path) -> None:
    lines = sorted(ids(0, 25))
    files = snapshots.split_into_files(lines, tmp_path, "added", 10)
    assert [f.path.name for f in files] == ["added-0001.txt", "added-0002.txt", "added-0003.txt"]
    assert [f.count for f in files] == [10, 10, 5]
    assert "".join(f.path.read_text() for f in files) == "".join(lines)
    for f in files:
        assert f.md5 == hashlib.md5(f.path.read_bytes()).hexdigest()
        assert stat.S_IMODE(f.path.stat().st_mode) == 0o600
    assert snapshots.split_into_files([], tmp_path, "none", 10) == []


def test_iter_lines_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("a\nb\n")
    assert list(snapshots.iter_lines(path)) == ["a\n", "b\n"]


def test_memory_stays_flat_for_a_large_sort(tmp_path: Path) -> None:
    """120k ids sorted in chunks of 8k never hold more than one chunk of lines at once."""
    import tracemalloc

    def generate():
        for i in range(120_000):
            yield hashlib.sha256(i.to_bytes(4, "big")).hexdigest() + "\n"

    tracemalloc.start()
    count = snapshots.external_sort(generate(), tmp_path / "big.txt", tmp_path, chunk_size=8_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 120_000
    # 120k strings held at once would take ~14 MB; one chunk of 8k is ~1 MB plus 15 run buffers of 256 KB
    assert peak < 6 * 1024 * 1024


def test_diff_to_files_writes_additions_and_removals(tmp_path: Path) -> None:
    old = sorted(ids(0, 30))
    new = sorted(ids(10, 30))
    diff = snapshots.diff_to_files(old, new, tmp_path, 8)
    assert (diff.added_count, diff.removed_count) == (10, 10)
    assert [f.count for f in diff.added] == [8, 2]
    assert [f.count for f in diff.removed] == [8, 2]
    assert "".join(f.path.read_text() for f in diff.added) == "".join(sorted(set(new) - set(old)))
    assert "".join(f.path.read_text() for f in diff.removed) == "".join(sorted(set(old) - set(new)))
    same = snapshots.diff_to_files(old, old, tmp_path, 8)
    assert (same.added, same.removed, same.added_count, same.removed_count) == ([], [], 0, 0)


@pytest.mark.parametrize(
    ("union", "changed", "expected"), [(True, 5, lambda o, n: o | n), (False, 15, lambda o, n: o - n)]
)
def test_merge_to_file(tmp_path: Path, union: bool, changed: int, expected) -> None:
    old = sorted(ids(0, 20))
    new = sorted(ids(5, 20))
    dest = tmp_path / "next.txt"
    assert snapshots.merge_to_file(old, new, dest, union=union) == (changed, len(expected(set(old), set(new))))
    assert dest.read_text() == "".join(sorted(expected(set(old), set(new))))
