"""The parallel engine's parts on their own: multi-version memory, write composition, scheduler, chunking."""
from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parevm.parallel.chunks import ChunkPlanner
from parevm.parallel.executor import ChunkReader, compose
from parevm.parallel.mv_memory import NONE, ChunkWrites, MVMemory, ReadEstimate, WriterIndex
from parevm.parallel.split_worker import FirstReads
from parevm.parallel.scheduler import ABORTING, EXECUTED, EXECUTING, READY_TO_EXECUTE, Scheduler
from parevm.parallel.synthetic import value_transfers
from parevm.state.block_state import BlockState
from parevm.state.code import EMPTY_CODE, code_of
from parevm.state.tx_state import TxWrites
from parevm.tx import Transaction

A, B, C = b"\xaa" * 20, b"\xbb" * 20, b"\xcc" * 20


def writes(accounts=None, deltas=None, codes=None, storage=None, cleared=()) -> ChunkWrites:
    return ChunkWrites((accounts or {}, deltas or {}, codes or {}, storage or {}, set(cleared)))


def base_state() -> BlockState:
    return BlockState.from_accounts([(A, 1, 100, b"\x60\x00", {1: 11, 2: 22}), (B, 0, 5, b"", {})])


# ---------------------------------------------------------------------- WriterIndex
def test_writer_index_tracks_single_and_multiple_writers():
    index = WriterIndex()
    index.add({"x", "y"}, 4)
    index.add({"x"}, 2)
    index.add({"x"}, 9)
    assert index.single == {"y": 4} and index.multi == {"x": [2, 4, 9]}
    assert [index.latest_below("x", r) for r in (2, 3, 5, 10)] == [NONE, 2, 4, 9]
    assert index.latest_below("y", 4) == NONE and index.latest_below("y", 5) == 4
    assert index.between("x", 2, 9) == [4] and index.between("x", NONE, 10) == [2, 4, 9]
    assert index.written_by_others({"x", "y", "z"}, {"y": 0}.keys()) == {"x"}
    index.remove({"x"}, 4)
    index.remove({"x"}, 2)
    assert index.single == {"y": 4, "x": 9} and index.multi == {}


# ---------------------------------------------------------------------- MVMemory reads
def test_account_read_is_latest_full_write_plus_later_deltas():
    mv = MVMemory(base_state())
    mv.record(1, writes(deltas={A: 7}))
    mv.record(3, writes(accounts={A: (2, 50)}))
    mv.record(5, writes(deltas={A: 1}))
    mv.record(6, writes(deltas={A: 2, C: 9}))
    assert mv.read_account(A, 0) == (1, 100)  # pre-state
    assert mv.read_account(A, 2) == (1, 107)
    assert mv.read_account(A, 4) == (2, 50)
    assert mv.read_account(A, 7) == (2, 53)
    assert mv.read_account(C, 7) == (0, 9)  # a delta creates the account


def test_deleted_account_then_delta():
    mv = MVMemory(base_state())
    mv.record(1, writes(accounts={A: None}, codes={A: b""}, cleared=[A]))
    mv.record(2, writes(deltas={A: 4}))
    assert mv.read_account(A, 2) is None
    assert mv.read_account(A, 3) == (0, 4)
    assert mv.read_code(A, 1).bytes == b"\x60\x00" and mv.read_code(A, 2) is EMPTY_CODE


def test_slot_read_after_wipe_and_rewrite():
    mv = MVMemory(base_state())
    mv.record(2, writes(storage={A: {1: 5}}))
    mv.record(4, writes(cleared=[A], storage={A: {2: 8}}))  # wiped, then slot 2 written
    assert [mv.read_slot(A, 1, r) for r in (0, 3, 5)] == [11, 5, 0]
    assert [mv.read_slot(A, 2, r) for r in (0, 3, 5)] == [22, 22, 8]
    assert mv.read_storage_keys(A, 0) == {1, 2}
    assert mv.read_storage_keys(A, 5) == {2}
    mv.record(6, writes(storage={A: {2: 0}}))
    assert mv.read_storage_keys(A, 7) == frozenset()


def test_estimate_makes_readers_wait_until_rerecorded():
    mv = MVMemory(base_state())
    mv.record(1, writes(storage={A: {1: 3}}))
    mv.mark_estimate(1)
    with pytest.raises(ReadEstimate) as waited:
        mv.read_slot(A, 1, 2)
    assert waited.value.writer == 1
    assert mv.read_slot(A, 1, 1) == 11  # a reader below the estimate does not see it
    assert mv.record(1, writes(storage={A: {1: 4}})) is False  # same location: nothing new
    assert mv.read_slot(A, 1, 2) == 4


def test_rerecord_drops_locations_the_new_incarnation_does_not_write():
    mv = MVMemory(base_state())
    assert mv.record(1, writes(accounts={B: (1, 1)}, storage={A: {1: 3}})) is True
    assert mv.record(1, writes(accounts={B: (1, 2)})) is False
    assert mv.read_slot(A, 1, 2) == 11 and mv.read_account(B, 2) == (1, 2)
    assert mv.record(1, writes(accounts={B: (1, 2)}, deltas={C: 1})) is True


def test_clone_is_independent():
    mv = MVMemory(base_state())
    mv.record(1, writes(accounts={B: (1, 1)}))
    copy = mv.clone()
    mv.record(0, writes(accounts={B: (7, 7)}))
    mv.mark_estimate(1)
    assert copy.read_account(B, 2) == (1, 1) and copy.read_account(B, 1) == (0, 5)


# ---------------------------------------------------------------------- validation
def read_as(mv: MVMemory, chunk: int, *reads) -> tuple:
    """The read set of `chunk` after the given reads through a ChunkReader."""
    reader = ChunkReader(mv, chunk)
    for kind, *args in reads:
        getattr(reader, kind)(*args)
    return reader.read_set()


def test_validation_sees_lower_writes_and_ignores_own_and_higher():
    mv = MVMemory(base_state())
    reads = read_as(mv, 3, ("read_account", A), ("read_storage", A, 1), ("read_code", A), ("has_storage", B))
    mv.record(3, writes(accounts={A: (2, 99)}, storage={A: {1: 0}}))
    assert mv.validate(3, reads)  # its own writes do not invalidate it
    mv.record(5, writes(accounts={A: (9, 9)}, codes={A: b""}, storage={B: {1: 1}}))
    assert mv.validate(3, reads)  # nor do higher chunks'
    mv.record(1, writes(storage={A: {1: 11}}))  # same value as the pre-state: still valid
    assert mv.validate(3, reads)
    mv.record(2, writes(deltas={A: 1}))
    assert not mv.validate(3, reads)
    mv.record(2, writes(deltas={B: 1}))
    assert mv.validate(3, reads)
    mv.record(2, writes(storage={B: {4: 1}}))  # B now has storage
    assert not mv.validate(3, reads)
    mv.record(2, writes(codes={A: b"\x00"}))
    assert not mv.validate(3, reads)
    mv.record(2, writes(cleared=[A]))  # wipes slot 1
    assert not mv.validate(3, reads)
    mv.record(2, writes())
    mv.mark_estimate(1)  # chunk 1 wrote slot 1's value: an estimate now
    assert not mv.validate(3, reads)


def test_validation_compares_values_read_from_other_chunks():
    mv = MVMemory(base_state())
    mv.record(1, writes(accounts={B: (1, 1)}, storage={A: {1: 5}}, codes={B: b"\x01"}))
    reads = read_as(mv, 2, ("read_account", B), ("read_storage", A, 1), ("read_code", B))
    assert reads[1] == {B: (1, 1)} and reads[5] == {(A, 1): 5}
    mv.record(2, writes())
    assert mv.validate(2, reads)
    mv.record(1, writes(accounts={B: (1, 1)}, storage={A: {1: 6}}, codes={B: b"\x01"}))
    assert not mv.validate(2, reads)
    mv.record(1, writes(accounts={B: (1, 1)}, storage={A: {1: 5}}, codes={B: b"\x02"}))
    assert not mv.validate(2, reads)
    mv.record(1, writes(accounts={B: (1, 1)}, storage={A: {1: 5}}, codes={B: b"\x01"}))
    assert mv.validate(2, reads)


def test_chunk_reader_sees_its_own_writes_first():
    mv = MVMemory(base_state())
    mv.record(0, writes(storage={A: {1: 7}}))
    reader = ChunkReader(mv, 1)
    compose(reader.writes, TxWrites(accounts={B: (0, 6)}, balance_deltas={A: 3}, storage={A: {2: 0}}))
    assert reader.read_account(B) == (0, 6)
    assert reader.read_account(A) == (1, 103)  # the replica's value plus the chunk's pending delta
    assert reader.read_storage(A, 1) == 7 and reader.read_storage(A, 2) == 0
    assert reader.has_storage(A)  # slot 1 is non-zero
    compose(reader.writes, TxWrites(storage={A: {1: 0}}))
    assert not reader.has_storage(A)
    # only replica reads are in the read set, each with the value seen if not the pre-state's
    account_base, account_seen, _, _, slot_base, slot_seen, keys_base, keys_seen = reader.read_set()
    assert account_base == {A} and account_seen == {} and slot_seen == {(A, 1): 7}
    assert keys_base == {A} and keys_seen == {}


# ---------------------------------------------------------------------- compose
addresses = st.sampled_from([A, B, C])
account_values = st.one_of(st.none(), st.tuples(st.integers(0, 3), st.integers(0, 100)))
tx_writes = st.builds(
    TxWrites,
    accounts=st.dictionaries(addresses, account_values, max_size=2),
    balance_deltas=st.dictionaries(addresses, st.integers(1, 9), max_size=2),
    codes=st.dictionaries(addresses, st.sampled_from([EMPTY_CODE, code_of(b"\x01"), code_of(b"\x02")]), max_size=1),
    storage=st.dictionaries(addresses, st.dictionaries(st.integers(0, 3), st.integers(0, 2), max_size=3), max_size=2),
    cleared_storage=st.sets(addresses, max_size=1),
)


def state_of(state: BlockState) -> tuple:
    return state.accounts, state.storage, {a: c.bytes for a, c in state.codes.items()}


@settings(max_examples=300, deadline=None)
@given(st.lists(tx_writes, max_size=6))
def test_composed_writes_apply_like_the_transactions_one_by_one(sequence):
    one_by_one, composed = base_state(), base_state()
    chunk = TxWrites()
    for tx in sequence:
        tx = pickle.loads(pickle.dumps(tx))  # compose may keep the transaction's dicts
        one_by_one.apply(pickle.loads(pickle.dumps(tx)))
        compose(chunk, tx)
    composed.apply(ChunkWrites(ChunkWrites.to_wire(chunk)).tx_writes())
    assert state_of(composed) == state_of(one_by_one)


@settings(max_examples=300, deadline=None)
@given(st.lists(tx_writes, max_size=6))
def test_split_chunk_writes_as_final_values_apply_like_the_transactions_one_by_one(sequence):
    one_by_one, committed = base_state(), base_state()
    reader = FirstReads(base_state())  # the range split's worker: each transaction applied at once
    for tx in sequence:
        one_by_one.apply(pickle.loads(pickle.dumps(tx)))
        reader.apply(pickle.loads(pickle.dumps(tx)))
    assert state_of(reader.state) == state_of(one_by_one)
    committed.apply(ChunkWrites.wire_tx_writes(pickle.loads(pickle.dumps(ChunkWrites.to_wire(reader.writes())))))
    assert state_of(committed) == state_of(one_by_one)


def test_split_reads_keep_the_first_value_seen_and_hold_only_on_equal_state():
    reader = FirstReads(base_state())
    assert reader.read_storage(A, 1) == 11 and reader.read_account(B) == (0, 5)
    reader.apply(TxWrites(accounts={B: (1, 4)}, balance_deltas={C: 2}, storage={A: {1: 12}}))
    assert reader.read_storage(A, 1) == 12 and reader.read_account(B) == (1, 4)
    reader.apply(TxWrites(balance_deltas={C: 3, A: 1}))
    # credited without a read (a fee): recorded as it was before the chunk's first credit
    assert reader.read_account(C) == (0, 5) and reader.read_account(A) == (1, 101)
    assert not reader.has_storage(B) and reader.read_code(A).bytes == b"\x60\x00"
    reads = reader.reads()
    assert reads[0] == {B: (0, 5), C: None, A: (1, 100)} and reads[2] == {A: {1: 11}}
    before = base_state()
    assert FirstReads.hold(before, reads)
    for change in (lambda s: s.storage[A].update({1: 13}), lambda s: s.storage.update({B: {0: 1}}),
                   lambda s: s.accounts.update({B: (0, 6)}), lambda s: s.codes.pop(A),
                   lambda s: s.accounts.update({C: (0, 0)}), lambda s: s.accounts.update({A: (1, 99)})):
        changed = pickle.loads(pickle.dumps(before))
        change(changed)
        assert not FirstReads.hold(changed, reads)


# ---------------------------------------------------------------------- scheduler
def scheduler_of(size: int) -> Scheduler:
    remaining = [size]

    def more() -> bool:
        remaining[0] -= 1
        return remaining[0] >= 0

    return Scheduler(more)


def test_scheduler_hands_out_executions_then_validations_then_is_done():
    s = scheduler_of(2)
    assert s.next_version_to_execute() == (0, 0) and s.next_version_to_execute() == (1, 0)
    assert s.next_version_to_execute() is None and not s.done()
    assert s.finish_execution(1, 0, True) is None  # validation_idx is 0: validated in turn
    assert s.finish_execution(0, 0, True) is None
    assert s.next_version_to_validate() == (0, 0)
    assert s.finish_validation(0, False) is None
    assert s.next_version_to_validate() == (1, 0)
    assert s.finish_validation(1, False) is None
    assert s.next_version_to_validate() is None
    assert s.done() and s.num_active_tasks == 0


def test_scheduler_abort_reincarnates_and_revalidates_above():
    s = scheduler_of(3)
    for i in range(3):
        s.next_version_to_execute()
    for i in range(3):
        s.finish_execution(i, 0, True)
    for i in range(3):
        assert s.next_version_to_validate() == (i, 0)
        if i != 1:
            s.finish_validation(i, False)
    assert s.try_validation_abort(1, 0) and not s.try_validation_abort(1, 0)
    assert s.finish_validation(1, True) == (1, 1)  # re-executed at once
    assert s.validation_idx == 2 and s.status[1] == EXECUTING
    # a re-execution that wrote nothing new is validated alone; one that did re-validates above it
    assert s.finish_execution(1, 1, False) == (1, 1)
    s.finish_validation(1, False)
    assert s.validation_idx == 2
    s.status[1] = EXECUTING
    assert s.finish_execution(1, 1, True) is None and s.validation_idx == 1


def test_scheduler_dependency_waits_for_the_blocking_task():
    s = scheduler_of(3)
    for i in range(3):
        s.next_version_to_execute()
    assert s.add_dependency(2, 0)
    assert s.status[2] == ABORTING and s.dependencies[0] == [2]
    s.finish_execution(0, 0, True)
    assert s.status[2] == READY_TO_EXECUTE and s.incarnation[2] == 1
    assert s.execution_idx == 2 and s.next_version_to_execute() == (2, 1)
    s.finish_execution(2, 1, True)
    assert not s.add_dependency(1, 2)  # already executed: retry at once


def test_scheduler_abandoned_execution_gets_a_new_incarnation():
    s = scheduler_of(2)
    s.next_version_to_execute()
    s.next_version_to_execute()
    active = s.num_active_tasks
    s.abandon_execution(0)
    assert s.num_active_tasks == active - 1
    assert s.status[0] == READY_TO_EXECUTE and s.incarnation[0] == 1 and s.execution_idx == 0
    assert s.next_version_to_execute() == (0, 1)


def test_scheduler_grows_tasks_on_demand():
    created = []

    def more() -> bool:
        created.append(len(created))
        return len(created) <= 2

    s = Scheduler(more)
    assert s.size == 0
    assert s.next_version_to_execute() == (0, 0) and s.size == 1
    assert s.next_version_to_execute() == (1, 0) and s.size == 2
    assert s.next_version_to_execute() is None and s.size == 2
    assert s.status == [EXECUTING, EXECUTING]
    s.finish_execution(0, 0, True)
    assert s.status[0] == EXECUTED


# ---------------------------------------------------------------------- chunking
def test_planner_groups_cheap_transactions_and_isolates_heavy_ones():
    block = value_transfers(300)
    state = block.state()
    heavy = Transaction(nonce=0, gas_price=1, gas_limit=5_000_000, to=A, data=b"\x01")
    state.codes[A] = code_of(b"\x00")
    txs = block.txs[:200] + [heavy] + block.txs[200:]
    planner = ChunkPlanner(txs, state, workers=2)
    first = planner.next_end(0)
    assert 50 < first <= 200  # ~2 ms of 15 us transfers
    assert planner.next_end(200) == 201  # 5M gas is a chunk of its own
    planner.observe(0, [100e-6] * first)  # transfers turn out slower: smaller chunks
    assert planner.next_end(0) < first
    assert ChunkPlanner(txs, state, workers=2, fixed=7).next_end(296) == 301
    rate = planner.seconds_per_plain
    assert planner.span(0, 10 * rate) in (10, 11) and planner.span(0, 1.0) == len(txs)


def test_code_pickles_as_its_bytes_even_after_it_ran():
    """Analyses hold the interpreter's closures; a pickled `Code` carries only its bytes and comes
    back as the interned object (with this process's analyses)."""
    code = code_of(b"\x60\x01\x60\x02\x01")  # PUSH1 1 PUSH1 2 ADD
    code.analyses["test"] = lambda: None  # as an analysis of a code that ran would
    assert pickle.loads(pickle.dumps(code)) is code
