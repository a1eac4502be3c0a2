-- The analysis database: one row per transcript, frame, event, run, verdict, failure and violation,
-- and per recorded test with its transcripts, events, violations and goldens, all of the latest
-- invocation that replayed scenarios; the latest sweep's simulated runs; and the history of every
-- invocation that wrote the file (invocations, verdict_history), carried over from the file each
-- build replaces.
-- Every column is documented in docs/analysis.md. Tables are filled by load.sql from NDJSON row
-- files with explicit column types; nothing here is inferred from the data.

-- One row per transcript file (or in-memory transcript) that was loaded or replayed.
CREATE TABLE transcripts (
    transcript_id  VARCHAR PRIMARY KEY,  -- repo-relative path, or the id the caller gave
    path           VARCHAR,              -- the file it was read from (relative when possible)
    provider       VARCHAR NOT NULL,     -- header.provider
    protocol       VARCHAR NOT NULL,     -- header.protocol, e.g. 'anthropic.messages'
    transport      VARCHAR,              -- 'http' | 'stdio'; NULL for a protocol nobody registered
    version        VARCHAR NOT NULL,     -- header.version
    scenario       VARCHAR NOT NULL,     -- header.scenario (the recording's name, not a scenario file)
    metadata       JSON NOT NULL,        -- header.metadata, verbatim
    entry_count    INTEGER NOT NULL,     -- entries after the header
    outbound_count INTEGER NOT NULL,     -- expect_outbound entries
    inbound_count  INTEGER NOT NULL,     -- emit_inbound entries
    exit_status    VARCHAR               -- status of the last runtime_exit entry, if any
);

-- One row per transcript entry, in file order.
CREATE TABLE frames (
    transcript_id VARCHAR NOT NULL,
    entry_index   INTEGER NOT NULL,      -- 0-based position among the entries (header excluded)
    line          INTEGER,               -- 1-based source line; NULL for in-memory transcripts
    direction     VARCHAR NOT NULL,      -- 'outbound' | 'inbound' | 'exit'
    label         VARCHAR,               -- the entry's label
    kind          VARCHAR,               -- http: frame.kind; stdio: frame.method, else frame.type; exit: status
    sse_event     VARCHAR,               -- sse frames: the `event:` name
    data_type     VARCHAR,               -- sse frames: data.type
    after_ms      INTEGER,               -- inbound frames: the recorded afterMs
    exchange      INTEGER NOT NULL,      -- 1-based request/response exchange (see docs/analysis.md)
    frame         JSON,                  -- the frame verbatim; exit rows: {"status", "error"}
    PRIMARY KEY (transcript_id, entry_index)
);

-- One row per verdict: a scenario that was replayed and judged, and one per variant of a scenario
-- with variants (variant_of names the scenario). Scenarios are the rows where variant_of IS NULL.
CREATE TABLE verdicts (
    scenario       VARCHAR PRIMARY KEY,  -- scenario name
    position       INTEGER NOT NULL,     -- 1-based order in which the results were given
    scenario_path  VARCHAR,              -- the scenario file; NULL for a scenario built in memory
    transcript_id  VARCHAR NOT NULL,     -- transcripts.transcript_id of the replayed transcript
    protocol       VARCHAR NOT NULL,
    status         VARCHAR NOT NULL,     -- 'passed' | 'failed'
    failure_count  INTEGER NOT NULL,     -- rows in failures for this scenario
    golden_path    VARCHAR,              -- NULL when the scenario has no golden
    golden_outcome VARCHAR,              -- 'matched' | 'created' | 'updated' | NULL (missing, differs or none)
    reproduce      VARCHAR NOT NULL,     -- the command that reruns this scenario alone
    variant_of     VARCHAR               -- a variant's scenario (its verdict is that scenario's row); NULL for a scenario
);

-- One row per stored domain event of every replayed scenario.
CREATE TABLE events (
    scenario   VARCHAR NOT NULL,
    sequence   INTEGER NOT NULL,         -- 1, 2, 3, ... within the scenario's event log
    event_id   VARCHAR NOT NULL,
    type       VARCHAR NOT NULL,         -- one of EVENT_TYPES
    thread_id  VARCHAR,
    run_id     VARCHAR,
    command_id VARCHAR,
    at_ms      BIGINT NOT NULL,          -- logical replay clock
    data       JSON NOT NULL,            -- the payload, verbatim
    PRIMARY KEY (scenario, sequence)
);

-- One row per run, from the orchestrator's projection at the end of the replay.
CREATE TABLE runs (
    scenario         VARCHAR NOT NULL,
    run_id           VARCHAR NOT NULL,
    thread_id        VARCHAR,
    protocol         VARCHAR NOT NULL,   -- the transcript's protocol, e.g. 'anthropic.messages', 'codex.app-server'
    ordinal          INTEGER NOT NULL,   -- 1-based run number within its thread
    created_sequence INTEGER,            -- sequence of the run.created event (orders runs in a scenario)
    status           VARCHAR NOT NULL,   -- 'created' | 'running' | 'completed' | 'failed' | 'interrupted' | 'cancelled'
    stop_reason      VARCHAR,
    error_type       VARCHAR,
    error_message    VARCHAR,
    requests         INTEGER NOT NULL,   -- provider turns of the run (one per HTTP request)
    responses        INTEGER NOT NULL,   -- provider turns of the run that began a response
    PRIMARY KEY (scenario, run_id)
);

-- One row per reason a scenario failed, in the order the runner found them.
CREATE TABLE failures (
    scenario VARCHAR NOT NULL,
    ordinal  INTEGER NOT NULL,           -- 1-based within the scenario
    kind     VARCHAR NOT NULL,           -- 'replay' | 'invariant' | 'expectation' | 'golden' | 'golden_missing' | 'parity'
    message  VARCHAR NOT NULL,
    detail   VARCHAR NOT NULL,           -- e.g. the golden diff; '' when there is none
    PRIMARY KEY (scenario, ordinal)
);

-- One row per broken rule: event-log invariants and adapter-reported protocol violations.
CREATE TABLE violations (
    scenario VARCHAR NOT NULL,
    ordinal  INTEGER NOT NULL,           -- 1-based within the scenario: invariants first, then protocol
    source   VARCHAR NOT NULL,           -- 'invariant' | 'protocol'
    rule     VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,           -- 'error' | 'warning'
    sequence INTEGER,                    -- the event it concerns; NULL for end-of-log invariants
    message  VARCHAR NOT NULL,
    run_id   VARCHAR,
    detail   JSON,                       -- invariant: subject/expected/found; protocol: the event data
    PRIMARY KEY (scenario, ordinal)
);

-- Golden files under the goldens directory that no scenario of the run referred to.
CREATE TABLE unused_goldens (
    path VARCHAR PRIMARY KEY
);

-- One row per ordinary pytest test that recorded its outcome with the harness_results fixture.
CREATE TABLE tests (
    nodeid    VARCHAR PRIMARY KEY,       -- pytest node id, e.g. 'tests/test_app.py::test_tool_loop'
    position  INTEGER NOT NULL,          -- 1-based, collection order
    path      VARCHAR NOT NULL,          -- the test file (the node id up to '::')
    status    VARCHAR NOT NULL,          -- 'passed' | 'failed' | 'skipped'
    message   VARCHAR,                   -- one line: why it failed or was skipped; NULL when it passed
    detail    VARCHAR NOT NULL,          -- pytest's failure text; '' when there is none
    reproduce VARCHAR NOT NULL           -- the command that reruns the test alone: pytest '<nodeid>'
);

-- One row per transcript a test recorded (or replayed with harness_replay).
CREATE TABLE test_transcripts (
    nodeid        VARCHAR NOT NULL,
    ordinal       INTEGER NOT NULL,      -- 1-based, in the order the test recorded them
    transcript_id VARCHAR NOT NULL,      -- transcripts.transcript_id
    PRIMARY KEY (nodeid, ordinal)
);

-- One row per event of every event log a test recorded (its own orchestrator's events, verbatim).
CREATE TABLE test_events (
    nodeid      VARCHAR NOT NULL,
    log         VARCHAR NOT NULL,        -- the log's name within the test (default 'events')
    event_index INTEGER NOT NULL,        -- 0-based position in the log
    type        VARCHAR,                 -- the value at the log's type field (default $.type) when a string
    data        JSON NOT NULL,           -- the event, verbatim
    PRIMARY KEY (nodeid, log, event_index)
);

-- One row per rule violation a test recorded.
CREATE TABLE test_violations (
    nodeid      VARCHAR NOT NULL,
    ordinal     INTEGER NOT NULL,        -- 1-based within the test
    log         VARCHAR NOT NULL,        -- the log the violation was found in
    rule        VARCHAR NOT NULL,
    severity    VARCHAR NOT NULL,        -- 'error' | 'warning'
    event_index INTEGER,                 -- test_events.event_index of the offending event; NULL at end of log
    message     VARCHAR NOT NULL,
    subject     VARCHAR,                 -- the key the rule is about
    detail      JSON NOT NULL,           -- {"run_id", "expected", "found"}
    PRIMARY KEY (nodeid, ordinal)
);

-- One row per golden check a test made with harness_golden.assert_match.
CREATE TABLE test_goldens (
    nodeid  VARCHAR NOT NULL,
    ordinal INTEGER NOT NULL,            -- 1-based, in the order of the checks
    path    VARCHAR NOT NULL,            -- the golden file
    outcome VARCHAR NOT NULL,            -- 'matched' | 'created' | 'updated' | 'missing' | 'differs' | 'skipped'
    PRIMARY KEY (nodeid, ordinal)
);

-- The file's own facts: key 'schema' is the schema version. A file with another version (or none)
-- is replaced without carrying its history over.
CREATE TABLE meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- One row per invocation that wrote this file, oldest first, kept across builds.
CREATE TABLE invocations (
    invocation   INTEGER PRIMARY KEY,    -- 1, 2, 3, ... in the order the invocations wrote the file
    run_id       VARCHAR NOT NULL UNIQUE, -- 'run-<invocation>'
    started_at   VARCHAR NOT NULL,       -- ISO 8601 UTC: the given timestamp, SOURCE_DATE_EPOCH, or the clock at start
    command      VARCHAR NOT NULL,       -- 'harness run' | 'harness db build' | 'pytest' | 'harness simulate'
    kind         VARCHAR NOT NULL,       -- 'scenarios' (replaced the scenario and test tables) | 'simulation' (the sim_ tables)
    scenarios    INTEGER NOT NULL,       -- scenarios judged (variants not counted)
    variants     INTEGER NOT NULL,       -- variant replays behind those scenarios
    passed       INTEGER NOT NULL,       -- scenarios passed
    failed       INTEGER NOT NULL,       -- scenarios failed
    tests        INTEGER NOT NULL,       -- recorded pytest tests
    tests_failed INTEGER NOT NULL,
    sim_runs     INTEGER NOT NULL,       -- simulated runs (a sweep)
    sim_failed   INTEGER NOT NULL,       -- simulated runs that failed
    elapsed_ms   BIGINT                  -- wall time the invocation took, when it measured it (sweeps)
);

-- One row per scenario and variant verdict of every 'scenarios' invocation, kept across builds:
-- what trends are drawn from.
CREATE TABLE verdict_history (
    invocation    INTEGER NOT NULL,      -- invocations.invocation
    scenario      VARCHAR NOT NULL,
    variant_of    VARCHAR,
    protocol      VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,      -- 'passed' | 'failed'
    failure_count INTEGER NOT NULL,
    events        INTEGER NOT NULL,      -- events stored by the scenario's replay (scenario_summary.events)
    tool_calls    INTEGER NOT NULL,      -- tool_call.requested events (scenario_summary.tool_calls)
    violations    INTEGER NOT NULL,      -- rows in violations (errors and warnings)
    PRIMARY KEY (invocation, scenario)
);

-- The latest sweep (harness simulate): one row per simulated run.
CREATE TABLE sim_runs (
    run            INTEGER PRIMARY KEY,  -- 1-based, the run's order in the sweep (seed order)
    target         VARCHAR NOT NULL,     -- the simulation target or scenario file
    seed           BIGINT,               -- NULL for an explicit plan
    plan           VARCHAR NOT NULL,     -- the fault plan's text form
    policy         VARCHAR NOT NULL,     -- 'random' | 'pct' | 'fifo' | 'replay' | 'crash'
    schedule       VARCHAR NOT NULL,     -- the decisions as run-length text ('' = FIFO)
    decisions      INTEGER NOT NULL,     -- scheduling decisions made
    verdict        VARCHAR NOT NULL,     -- 'pass' | 'fail' | 'vacuous'
    signature      VARCHAR,              -- violated rule ids, '+'-joined; NULL on a pass
    digest         VARCHAR NOT NULL,     -- the history's SHA-256
    faults_planned INTEGER NOT NULL,
    faults_fired   INTEGER NOT NULL,
    steps          INTEGER NOT NULL,
    virtual_ms     BIGINT NOT NULL,
    outcome        VARCHAR NOT NULL
);

-- One row per planned fault of every simulated run of the latest sweep.
CREATE TABLE sim_faults (
    run     INTEGER NOT NULL,            -- sim_runs.run
    target  VARCHAR NOT NULL,
    seed    BIGINT,
    fault   VARCHAR NOT NULL,            -- the fault's text form, e.g. 'reset@1.4'
    kind    VARCHAR NOT NULL,            -- e.g. 'reset'
    fired   BOOLEAN NOT NULL,
    skipped VARCHAR                      -- why the fault could not be applied; NULL when it was
);

-- One row per rule a simulated run of the latest sweep broke.
CREATE TABLE sim_violations (
    run         INTEGER NOT NULL,        -- sim_runs.run
    target      VARCHAR NOT NULL,
    seed        BIGINT,
    rule        VARCHAR NOT NULL,
    message     VARCHAR NOT NULL,
    event_index INTEGER                  -- the event it is about, when there is one
);

-- One row per failure signature of the latest sweep, with its shrunk reproduction.
CREATE TABLE sim_groups (
    target     VARCHAR NOT NULL,
    signature  VARCHAR NOT NULL,
    runs       INTEGER NOT NULL,         -- failing runs with this signature
    first_seed BIGINT,                   -- NULL for a crash sweep
    message    VARCHAR NOT NULL,         -- the shrunk run's first violation
    reproduce  VARCHAR NOT NULL,         -- the one-line reproduction
    PRIMARY KEY (target, signature)
);

-- The swim lanes of each failure signature's shrunk run: one row per scheduling decision, yield
-- point, exchange served and fault fired, for the report's sweep page.
CREATE TABLE sim_steps (
    target    VARCHAR NOT NULL,
    signature VARCHAR NOT NULL,          -- sim_groups.signature
    ordinal   INTEGER NOT NULL,          -- 1-based, in the order the run recorded them
    lane      VARCHAR NOT NULL,          -- 'decision' | 'point' | 'exchange' | 'fault'
    step      INTEGER,                   -- the simulated loop's step; NULL when unknown
    label     VARCHAR NOT NULL,          -- 'ran task-3', a point's name, 'exchange 2: status 200', 'reset@1.4'
    detail    VARCHAR,                   -- '2 ready', a point's detail, 'cut'
    PRIMARY KEY (target, signature, ordinal)
);
