-- One INSERT per table. Each reads one NDJSON row file written by harness/analysis/db.py ($path;
-- a table with many rows has several files, loaded in order), with every column's type spelled
-- out: read_json never guesses a schema here. $maximum_object_size covers the file's longest
-- line. JSON columns are read as JSON (the nested value verbatim). `-- name:` lines split this
-- file into named statements.
-- A line is one row, except for frames, events and test_events: there a line is a block of rows
-- of one transcript, scenario or log (harness/analysis/rows.py, BLOCK_TABLES). Its key columns
-- hold one value for the whole block, every other column a list with one value per row, and the
-- unnests in the same SELECT zip those lists back into rows, in order.

-- name: transcripts
INSERT INTO transcripts BY NAME
SELECT * FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    transcript_id: 'VARCHAR', path: 'VARCHAR', provider: 'VARCHAR', protocol: 'VARCHAR',
    transport: 'VARCHAR', version: 'VARCHAR', scenario: 'VARCHAR', metadata: 'JSON',
    entry_count: 'INTEGER', outbound_count: 'INTEGER', inbound_count: 'INTEGER', exit_status: 'VARCHAR'
});

-- name: frames
INSERT INTO frames BY NAME
SELECT transcript_id, unnest(entry_index) AS entry_index, unnest(line) AS line,
       unnest(direction) AS direction, unnest(label) AS label, unnest(kind) AS kind,
       unnest(sse_event) AS sse_event, unnest(data_type) AS data_type, unnest(after_ms) AS after_ms,
       unnest(exchange) AS exchange, unnest(frame) AS frame
FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    transcript_id: 'VARCHAR', entry_index: 'INTEGER[]', line: 'INTEGER[]', direction: 'VARCHAR[]',
    label: 'VARCHAR[]', kind: 'VARCHAR[]', sse_event: 'VARCHAR[]', data_type: 'VARCHAR[]',
    after_ms: 'INTEGER[]', exchange: 'INTEGER[]', frame: 'JSON[]'
});

-- name: verdicts
INSERT INTO verdicts BY NAME
SELECT * FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    scenario: 'VARCHAR', position: 'INTEGER', scenario_path: 'VARCHAR', transcript_id: 'VARCHAR',
    protocol: 'VARCHAR', status: 'VARCHAR', failure_count: 'INTEGER', golden_path: 'VARCHAR',
    golden_outcome: 'VARCHAR', reproduce: 'VARCHAR', variant_of: 'VARCHAR'
});

-- name: events
INSERT INTO events BY NAME
SELECT scenario, unnest(sequence) AS sequence, unnest(event_id) AS event_id, unnest(type) AS type,
       unnest(thread_id) AS thread_id, unnest(run_id) AS run_id, unnest(command_id) AS command_id,
       unnest(at_ms) AS at_ms, unnest(data) AS data
FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    scenario: 'VARCHAR', sequence: 'INTEGER[]', event_id: 'VARCHAR[]', type: 'VARCHAR[]',
    thread_id: 'VARCHAR[]', run_id: 'VARCHAR[]', command_id: 'VARCHAR[]', at_ms: 'BIGINT[]', data: 'JSON[]'
});

-- name: runs
INSERT INTO runs BY NAME
SELECT * FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    scenario: 'VARCHAR', run_id: 'VARCHAR', thread_id: 'VARCHAR', protocol: 'VARCHAR', ordinal: 'INTEGER',
    created_sequence: 'INTEGER', status: 'VARCHAR', stop_reason: 'VARCHAR', error_type: 'VARCHAR',
    error_message: 'VARCHAR', requests: 'INTEGER', responses: 'INTEGER'
});

-- name: failures
INSERT INTO failures BY NAME
SELECT * FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    scenario: 'VARCHAR', ordinal: 'INTEGER', kind: 'VARCHAR', message: 'VARCHAR', detail: 'VARCHAR'
});

-- name: violations
INSERT INTO violations BY NAME
SELECT * FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    scenario: 'VARCHAR', ordinal: 'INTEGER', source: 'VARCHAR', rule: 'VARCHAR', severity: 'VARCHAR',
    sequence: 'INTEGER', message: 'VARCHAR', run_id: 'VARCHAR', detail: 'JSON'
});

-- name: unused_goldens
INSERT INTO unused_goldens BY NAME
SELECT * FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {path: 'VARCHAR'});

-- name: tests
INSERT INTO tests BY NAME
SELECT * FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    nodeid: 'VARCHAR', position: 'INTEGER', path: 'VARCHAR', status: 'VARCHAR', message: 'VARCHAR',
    detail: 'VARCHAR', reproduce: 'VARCHAR'
});

-- name: test_transcripts
INSERT INTO test_transcripts BY NAME
SELECT * FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    nodeid: 'VARCHAR', ordinal: 'INTEGER', transcript_id: 'VARCHAR'
});

-- name: test_events
INSERT INTO test_events BY NAME
SELECT nodeid, log, unnest(event_index) AS event_index, unnest(type) AS type, unnest(data) AS data
FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    nodeid: 'VARCHAR', log: 'VARCHAR', event_index: 'INTEGER[]', type: 'VARCHAR[]', data: 'JSON[]'
});

-- name: test_violations
INSERT INTO test_violations BY NAME
SELECT * FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    nodeid: 'VARCHAR', ordinal: 'INTEGER', log: 'VARCHAR', rule: 'VARCHAR', severity: 'VARCHAR',
    event_index: 'INTEGER', message: 'VARCHAR', subject: 'VARCHAR', detail: 'JSON'
});

-- name: test_goldens
INSERT INTO test_goldens BY NAME
SELECT * FROM read_json($path, format = 'newline_delimited', maximum_object_size = $maximum_object_size, columns = {
    nodeid: 'VARCHAR', ordinal: 'INTEGER', path: 'VARCHAR', outcome: 'VARCHAR'
});
