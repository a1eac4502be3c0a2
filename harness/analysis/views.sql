-- Derived views over the tables in schema.sql. docs/analysis.md gives each one's contract.

-- One row per run: its outcome and how much happened in it.
-- tool_calls counts tool_call.requested events; events counts every event carrying the run_id
-- (thread-level events such as command.accepted have no run_id, so they are not counted).
CREATE VIEW run_summary AS
WITH per_run AS (
    SELECT scenario, run_id,
           count(*) FILTER (WHERE type = 'tool_call.requested') AS tool_calls,
           count(*) AS events
    FROM events
    WHERE run_id IS NOT NULL
    GROUP BY scenario, run_id
)
SELECT r.scenario, r.run_id, r.protocol, r.status, r.stop_reason, r.error_type, r.requests, r.responses,
       coalesce(p.tool_calls, 0) AS tool_calls,
       coalesce(p.events, 0) AS events
FROM runs AS r
LEFT JOIN per_run AS p USING (scenario, run_id)
ORDER BY r.scenario, r.created_sequence, r.run_id;

-- Per transcript and exchange: milliseconds from the request (or, for stream-only recordings,
-- the stream start) to the first content frame. The first content frame is the first sse frame
-- whose data.type is Anthropic's 'content_block_delta' or ends in '.delta' (OpenAI Responses:
-- 'response.output_text.delta', ...). Anthropic's 'message_delta' carries the stop reason, not
-- content, so a bare '%delta%' match would be wrong. ttft_ms sums afterMs over the exchange's
-- inbound frames up to and including that frame; a missing afterMs counts as 0 (as in replay),
-- and ttft_ms is NULL when none of those frames recorded afterMs. Exchanges without a content
-- frame have no row.
CREATE VIEW time_to_first_token AS
WITH first_content AS (
    SELECT transcript_id, exchange, min(entry_index) AS entry_index
    FROM frames
    WHERE direction = 'inbound'
      AND kind = 'sse'
      AND (data_type = 'content_block_delta' OR data_type LIKE '%.delta')
    GROUP BY transcript_id, exchange
)
SELECT c.transcript_id, c.exchange,
       c.entry_index AS first_content_index,
       any_value(f.data_type) FILTER (WHERE f.entry_index = c.entry_index) AS first_content_type,
       count(*) AS inbound_frames,
       count(f.after_ms) AS timed_frames,
       CAST(sum(f.after_ms) AS BIGINT) AS ttft_ms
FROM first_content AS c
JOIN frames AS f
  ON f.transcript_id = c.transcript_id
 AND f.exchange = c.exchange
 AND f.direction = 'inbound'
 AND f.entry_index <= c.entry_index
GROUP BY c.transcript_id, c.exchange, c.entry_index
ORDER BY c.transcript_id, c.exchange;

-- One row per run: tool calls requested, and how many completed with each outcome status.
CREATE VIEW tool_calls_per_run AS
SELECT r.scenario, r.run_id,
       count(*) FILTER (WHERE e.type = 'tool_call.requested') AS tool_calls,
       count(*) FILTER (WHERE e.type = 'tool_call.completed'
                          AND e.data ->> '$.outcome.status' = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE e.type = 'tool_call.completed'
                          AND e.data ->> '$.outcome.status' = 'failed') AS failed
FROM runs AS r
LEFT JOIN events AS e
  ON e.scenario = r.scenario
 AND e.run_id = r.run_id
 AND e.type IN ('tool_call.requested', 'tool_call.completed')
GROUP BY r.scenario, r.run_id, r.created_sequence
ORDER BY r.scenario, r.created_sequence, r.run_id;

-- How many events of each type every scenario stored.
CREATE VIEW events_by_type AS
SELECT scenario, type, count(*) AS count
FROM events
GROUP BY scenario, type
ORDER BY scenario, type;

-- One row per recorded test: its verdict and how much it recorded.
CREATE VIEW test_summary AS
SELECT t.nodeid, t.status,
       (SELECT count(*) FROM test_transcripts x WHERE x.nodeid = t.nodeid) AS transcripts,
       (SELECT count(DISTINCT e.log) FROM test_events e WHERE e.nodeid = t.nodeid) AS logs,
       (SELECT count(*) FROM test_events e WHERE e.nodeid = t.nodeid) AS events,
       (SELECT count(*) FROM test_violations v WHERE v.nodeid = t.nodeid) AS violations,
       (SELECT count(*) FROM test_violations v WHERE v.nodeid = t.nodeid AND v.severity = 'error') AS errors,
       (SELECT string_agg(g.outcome, ', ' ORDER BY g.ordinal) FROM test_goldens g WHERE g.nodeid = t.nodeid)
           AS goldens
FROM tests AS t
ORDER BY t.position;

-- Scenarios and recorded tests side by side: one row per verdict of either kind.
CREATE VIEW outcomes AS
SELECT 'scenario' AS kind, scenario AS name, status, position, reproduce FROM verdicts
UNION ALL
SELECT 'test' AS kind, nodeid AS name, status, position, reproduce FROM tests
ORDER BY kind, position;
