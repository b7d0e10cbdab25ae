"""The night's imports kept out of the cyclic collector's reach, and its young collections made rarer
(aclf.collector)."""
import gc
import sys

from aclf.collector import import_uncollected


def test_a_fresh_import_is_frozen_and_the_collector_restored():
    sys.modules.pop("colorsys", None)
    gc.unfreeze()
    try:
        import_uncollected("colorsys")
        assert "colorsys" in sys.modules
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_nothing_is_frozen_when_every_module_is_imported():
    gc.unfreeze()
    import_uncollected("json", "os")
    assert gc.get_freeze_count() == 0


def test_a_paused_collector_stays_paused():
    sys.modules.pop("colorsys", None)
    gc.disable()
    try:
        import_uncollected("colorsys")
        assert not gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()


def test_a_nights_process_collects_young_objects_less_often():
    from aclf.collector import YOUNG_THRESHOLD, prepare_process

    before = gc.get_threshold()
    gc.unfreeze()
    try:
        prepare_process("json")
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() == 0            # json was imported: nothing frozen
    finally:
        gc.set_threshold(*before)
