"""A folder written on a thread beside the caller's work (cdisc.folders.Swapped): in force only once
settled with keep, thrown away otherwise; a failed write's error raised when it was to be kept, the
folder in force left as it was; what is added once known (``also``) goes in with it."""
import pytest

from cdisc.folders import Swapped


def _in_force(tmp_path):
    folder = tmp_path / "handoff"
    folder.mkdir()
    (folder / "night.txt").write_text("last night")
    return folder


def _leftovers(tmp_path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))


def test_a_kept_folder_replaces_the_one_in_force(tmp_path):
    folder = _in_force(tmp_path)
    writing = Swapped(folder, lambda fresh: (fresh / "night.txt").write_text("tonight"))
    assert (folder / "night.txt").read_text() == "last night"      # nothing in force before it is settled
    writing.settle(True)
    assert (folder / "night.txt").read_text() == "tonight" and _leftovers(tmp_path) == []


def test_a_folder_not_kept_is_thrown_away(tmp_path):
    folder = _in_force(tmp_path)
    Swapped(folder, lambda fresh: (fresh / "night.txt").write_text("tonight")).settle(False)
    assert (folder / "night.txt").read_text() == "last night" and _leftovers(tmp_path) == []


def test_a_failed_write_raises_when_settled_and_leaves_the_folder_in_force(tmp_path):
    folder = _in_force(tmp_path)

    def broken(fresh):
        (fresh / "night.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        Swapped(folder, broken).settle(True)
    Swapped(folder, broken).settle(False)         # not kept: its error cannot fail the caller
    assert (folder / "night.txt").read_text() == "last night" and _leftovers(tmp_path) == []


def test_settling_again_does_nothing(tmp_path):
    folder = _in_force(tmp_path)
    writing = Swapped(folder, lambda fresh: (fresh / "night.txt").write_text("tonight"))
    writing.settle(True)
    writing.settle(True)
    writing.settle(False)
    assert (folder / "night.txt").read_text() == "tonight" and _leftovers(tmp_path) == []


def test_what_is_added_later_is_written_after_the_first_write_and_swapped_in_with_it(tmp_path):
    folder = _in_force(tmp_path)
    writing = Swapped(folder, lambda fresh: (fresh / "night.txt").write_text("tonight"))
    writing.also(lambda fresh: (fresh / "hashes.txt").write_text((fresh / "night.txt").read_text() + " hashed"))
    writing.settle(True)
    assert (folder / "hashes.txt").read_text() == "tonight hashed" and _leftovers(tmp_path) == []
    with pytest.raises(RuntimeError, match="settled"):
        writing.also(lambda fresh: None)


def test_a_failed_later_write_keeps_the_folder_in_force(tmp_path):
    folder = _in_force(tmp_path)
    writing = Swapped(folder, lambda fresh: (fresh / "night.txt").write_text("tonight"))
    writing.also(lambda fresh: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        writing.settle(True)
    assert (folder / "night.txt").read_text() == "last night" and _leftovers(tmp_path) == []
