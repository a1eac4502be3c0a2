-- One INSERT per table. Each reads an NDJSON row file written by harness/analysis/db.py, with
-- every column's type spelled out: read_json never guesses a schema here. JSON columns are read
-- as JSON (the nested value verbatim). `-- name:` lines split this file into named statements.

-- name: transcripts
INSERT INTO transcripts BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    transcript_id: 'VARCHAR', path: 'VARCHAR', provider: 'VARCHAR', protocol: 'VARCHAR',
    transport: 'VARCHAR', version: 'VARCHAR', scenario: 'VARCHAR', metadata: 'JSON',
    entry_count: 'INTEGER', outbound_count: 'INTEGER', inbound_count: 'INTEGER', exit_status: 'VARCHAR'
});

-- name: frames
INSERT INTO frames BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    transcript_id: 'VARCHAR', entry_index: 'INTEGER', line: 'INTEGER', direction: 'VARCHAR',
    label: 'VARCHAR', kind: 'VARCHAR', sse_event: 'VARCHAR', data_type: 'VARCHAR',
    after_ms: 'INTEGER', exchange: 'INTEGER', frame: 'JSON'
});

-- name: verdicts
INSERT INTO verdicts BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    scenario: 'VARCHAR', position: 'INTEGER', scenario_path: 'VARCHAR', transcript_id: 'VARCHAR',
    protocol: 'VARCHAR', status: 'VARCHAR', failure_count: 'INTEGER', golden_path: 'VARCHAR',
    golden_outcome: 'VARCHAR', reproduce: 'VARCHAR'
});

-- name: events
INSERT INTO events BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    scenario: 'VARCHAR', sequence: 'INTEGER', event_id: 'VARCHAR', type: 'VARCHAR',
    thread_id: 'VARCHAR', run_id: 'VARCHAR', command_id: 'VARCHAR', at_ms: 'BIGINT', data: 'JSON'
});

-- name: runs
INSERT INTO runs BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    scenario: 'VARCHAR', run_id: 'VARCHAR', thread_id: 'VARCHAR', ordinal: 'INTEGER',
    created_sequence: 'INTEGER', status: 'VARCHAR', stop_reason: 'VARCHAR', error_type: 'VARCHAR',
    error_message: 'VARCHAR', requests: 'INTEGER', responses: 'INTEGER'
});

-- name: failures
INSERT INTO failures BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    scenario: 'VARCHAR', ordinal: 'INTEGER', kind: 'VARCHAR', message: 'VARCHAR', detail: 'VARCHAR'
});

-- name: violations
INSERT INTO violations BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    scenario: 'VARCHAR', ordinal: 'INTEGER', source: 'VARCHAR', rule: 'VARCHAR', severity: 'VARCHAR',
    sequence: 'INTEGER', message: 'VARCHAR', run_id: 'VARCHAR', detail: 'JSON'
});

-- name: unused_goldens
INSERT INTO unused_goldens BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', columns = {path: 'VARCHAR'});

-- name: tests
INSERT INTO tests BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    nodeid: 'VARCHAR', position: 'INTEGER', path: 'VARCHAR', status: 'VARCHAR', message: 'VARCHAR',
    detail: 'VARCHAR', reproduce: 'VARCHAR'
});

-- name: test_transcripts
INSERT INTO test_transcripts BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', columns = {
    nodeid: 'VARCHAR', ordinal: 'INTEGER', transcript_id: 'VARCHAR'
});

-- name: test_events
INSERT INTO test_events BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    nodeid: 'VARCHAR', log: 'VARCHAR', event_index: 'INTEGER', type: 'VARCHAR', data: 'JSON'
});

-- name: test_violations
INSERT INTO test_violations BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', maximum_object_size = 268435456, columns = {
    nodeid: 'VARCHAR', ordinal: 'INTEGER', log: 'VARCHAR', rule: 'VARCHAR', severity: 'VARCHAR',
    event_index: 'INTEGER', message: 'VARCHAR', subject: 'VARCHAR', detail: 'JSON'
});

-- name: test_goldens
INSERT INTO test_goldens BY NAME
SELECT * FROM read_json(?, format = 'newline_delimited', columns = {
    nodeid: 'VARCHAR', ordinal: 'INTEGER', path: 'VARCHAR', outcome: 'VARCHAR'
});
