"""Deterministic simulation: seeded faults at the boundary, explored schedules, crash-restart of
the core, invariants over histories, shrinking and one-line reproductions.

The pipeline, one module per step:

* :mod:`~harness.simulate.seeds`: one integer seed, sub-streams derived by hashing;
* :mod:`~harness.simulate.faults`: fault plans as data, applied by rewriting what the boundary serves;
* :mod:`~harness.simulate.loop`: a deterministic asyncio loop with virtual time and scheduling policies;
* :mod:`~harness.simulate.target`: the user's async code under simulation (``@harness.simulation``);
* :mod:`~harness.simulate.core`: the harness's own core under faults and crash-restart;
* :mod:`~harness.simulate.history`: what a run did, its verdict, signature and digest;
* :mod:`~harness.simulate.sweep`: many seeds, failures grouped and shrunk;
* :mod:`~harness.simulate.executors`: where a sweep's batches run (this process, processes, Ray).

``docs/simulation.md`` specifies the formats and the rules.
"""
