"""Parallel execution of a block's transactions: Block-STM (Gelashvili et al. 2022) on worker processes.

The entry point is `parevm.parallel.engine.execute_transactions_parallel`, which leaves the state
and returns the results exactly as sequential execution would. One module per concept:

    engine.py        the coordinator: drives the scheduler, validates, dispatches, commits; statistics
    split.py         the range split, for blocks that look independent: ranges in place and on workers
    split_worker.py  the range split's worker: chunks run as sequentially, first reads noted
    scheduler.py     the paper's collaborative scheduler (execution_idx, validation_idx, ...)
    mv_memory.py     multi-version memory: writes per chunk, ESTIMATEs, read resolution, validation
    executor.py      a worker's side: replica, chunk execution, the read-recording state backing
    chunks.py        how many consecutive transactions form one task (a chunk)
    workers.py       transports: processes (default), threads, a seeded simulation for tests
    synthetic.py     hand-assembled contracts and conflict-heavy blocks for tests and benchmarks
    offload.py       `parevm run --workers`'s side work outside the engine: threads, a forked call
"""
