"""The garbage-collector policy both engines run blocks under (parevm.block.collector)."""
import gc

from parevm.block.collector import YOUNG_THRESHOLD, block_collection


def test_policy_applies_inside_and_is_undone_after_even_on_error():
    before = gc.get_threshold()
    try:
        with block_collection():
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD
            assert gc.get_freeze_count() > 0  # the heap as it was is frozen
            with block_collection():  # an engine inside another's run keeps the outer policy
                pass
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD and gc.get_freeze_count() > 0
            raise KeyError("block failed")
    except KeyError:
        pass
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_cycles_made_during_the_block_are_still_collected():
    class Node:
        pass

    with block_collection():
        node = Node()
        node.self = node
        del node
        assert gc.collect() > 0
