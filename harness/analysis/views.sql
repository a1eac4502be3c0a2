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

-- Content frames: the inbound frames that carry model output, one row each with its exchange's
-- cumulative recorded time (afterMs summed over the exchange's inbound frames up to and including
-- it; a missing afterMs counts as 0, as in replay; NULL when none of those frames recorded one).
-- A content frame is an sse frame whose data.type is Anthropic's 'content_block_delta' or ends in
-- '.delta' (OpenAI Responses: 'response.output_text.delta', ...; Anthropic's 'message_delta'
-- carries the stop reason, not content, so a bare '%delta%' match would be wrong), an OpenAI Chat
-- chunk with a choice delta ('chat.completion.chunk' sse data, data_type NULL), a Codex
-- 'item/agentMessage/delta' notification, or a Claude Code 'stream_event' whose event is a
-- 'content_block_delta'.
CREATE VIEW content_frames AS
WITH timed AS (
    SELECT transcript_id, exchange, entry_index, direction, kind, data_type, after_ms, frame,
           sum(coalesce(after_ms, 0)) OVER w AS elapsed_ms,
           count(after_ms) OVER w AS timed_frames,
           count(*) OVER w AS inbound_frames
    FROM frames
    WHERE direction = 'inbound'
    WINDOW w AS (PARTITION BY transcript_id, exchange ORDER BY entry_index ROWS UNBOUNDED PRECEDING)
)
SELECT transcript_id, exchange, entry_index,
       coalesce(data_type, CASE WHEN kind = 'sse' THEN frame ->> '$.data.object' END, kind) AS content_type,
       inbound_frames, timed_frames,
       CASE WHEN timed_frames > 0 THEN CAST(elapsed_ms AS BIGINT) END AS elapsed_ms
FROM timed
WHERE (kind = 'sse' AND (data_type = 'content_block_delta' OR data_type LIKE '%.delta'))
   OR (kind = 'sse' AND data_type IS NULL AND frame ->> '$.data.object' = 'chat.completion.chunk'
       AND json_array_length(frame -> '$.data.choices') > 0)
   OR kind = 'item/agentMessage/delta'
   OR (kind = 'stream_event' AND frame ->> '$.event.type' = 'content_block_delta')
ORDER BY transcript_id, exchange, entry_index;

-- Per transcript and exchange: milliseconds from the exchange's start (the request, or for
-- stream-only recordings the stream start) to its first content frame (content_frames). Exchanges
-- without a content frame have no row; ttft_ms is NULL when no frame up to it recorded afterMs.
CREATE VIEW time_to_first_token AS
SELECT transcript_id, exchange,
       entry_index AS first_content_index,
       content_type AS first_content_type,
       inbound_frames,
       timed_frames,
       elapsed_ms AS ttft_ms
FROM content_frames
QUALIFY row_number() OVER (PARTITION BY transcript_id, exchange ORDER BY entry_index) = 1
ORDER BY transcript_id, exchange;

-- Per transcript and exchange with two or more timed content frames: the gaps between
-- consecutive content frames (inter-token latency), in milliseconds.
CREATE VIEW inter_token_latency AS
WITH gaps AS (
    SELECT transcript_id, exchange,
           elapsed_ms - lag(elapsed_ms) OVER (PARTITION BY transcript_id, exchange ORDER BY entry_index) AS gap_ms
    FROM content_frames
)
SELECT transcript_id, exchange,
       count(gap_ms) + 1 AS content_frames,
       CAST(round(avg(gap_ms), 1) AS DOUBLE) AS mean_ms,
       CAST(quantile_disc(gap_ms, 0.5) AS BIGINT) AS median_ms,
       CAST(max(gap_ms) AS BIGINT) AS max_ms
FROM gaps
GROUP BY transcript_id, exchange
HAVING count(gap_ms) > 0
ORDER BY transcript_id, exchange;

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

-- One row per scenario and per variant, scenarios in run order with each one's variants right
-- after it. A scenario with variants has no runs or events of its own: its runs, tool_calls and
-- events are its variants' sums (and its final status and TTFT are left NULL). tool_calls counts
-- tool_call.requested events, which every protocol's replay stores (an HTTP loop's tool calls and
-- an agent runtime's command executions, file changes, searches, dynamic tools and subagents);
-- approvals counts the runtime requests (approvals and user-input requests) the runtime opened.
-- ttft_ms is the first exchange's time to first token (time_to_first_token).
CREATE VIEW scenario_summary AS
WITH last_run AS (
    SELECT scenario, status, stop_reason, error_type
    FROM runs
    QUALIFY row_number() OVER (PARTITION BY scenario ORDER BY created_sequence DESC NULLS LAST, run_id DESC) = 1
), run_counts AS (
    SELECT scenario, count(*) AS runs FROM runs GROUP BY scenario
), event_counts AS (
    SELECT scenario,
           count(*) AS events,
           count(*) FILTER (WHERE type = 'tool_call.requested') AS tool_calls,
           count(DISTINCT data ->> '$.runtime_request_id') FILTER (WHERE type = 'runtime-request.updated') AS approvals
    FROM events
    GROUP BY scenario
), own AS (
    SELECT v.scenario, v.variant_of,
           coalesce(r.runs, 0) AS runs, coalesce(e.tool_calls, 0) AS tool_calls,
           coalesce(e.approvals, 0) AS approvals, coalesce(e.events, 0) AS events
    FROM verdicts AS v
    LEFT JOIN run_counts AS r USING (scenario)
    LEFT JOIN event_counts AS e USING (scenario)
), variant_sums AS (
    SELECT variant_of AS scenario, count(*) AS variants, sum(runs) AS runs, sum(tool_calls) AS tool_calls,
           sum(approvals) AS approvals, sum(events) AS events
    FROM own
    WHERE variant_of IS NOT NULL
    GROUP BY variant_of
), first_ttft AS (
    SELECT transcript_id, ttft_ms
    FROM time_to_first_token
    QUALIFY row_number() OVER (PARTITION BY transcript_id ORDER BY exchange) = 1
)
SELECT v.scenario, v.variant_of, v.status, v.protocol,
       coalesce(s.runs, o.runs)::INTEGER AS runs,
       l.status AS final_status, l.error_type, l.stop_reason,
       coalesce(s.tool_calls, o.tool_calls)::INTEGER AS tool_calls,
       coalesce(s.approvals, o.approvals)::INTEGER AS approvals,
       coalesce(s.events, o.events)::INTEGER AS events,
       v.failure_count,
       CASE WHEN s.scenario IS NULL THEN t.ttft_ms END AS ttft_ms,
       coalesce(s.variants, 0) AS variants
FROM verdicts AS v
JOIN own AS o USING (scenario)
LEFT JOIN variant_sums AS s USING (scenario)
LEFT JOIN last_run AS l USING (scenario)
LEFT JOIN first_ttft AS t ON t.transcript_id = v.transcript_id
LEFT JOIN verdicts AS p ON p.scenario = v.variant_of
ORDER BY coalesce(p.position, v.position), v.variant_of IS NOT NULL, v.position;

-- One row per tool_call.requested event, with the tool_call.completed event that answers it: the
-- n-th completion of a tool_call_id in a scenario answers that id's n-th request. completed_sequence
-- and outcome (outcome.status) are NULL for a call that never completed. The report's timelines
-- and the Chrome traces draw tool calls from here.
CREATE VIEW tool_call_spans AS
WITH requested AS (
    SELECT scenario, sequence, run_id, data ->> '$.tool_call_id' AS tool_call_id, data ->> '$.name' AS name,
           row_number() OVER (PARTITION BY scenario, data ->> '$.tool_call_id' ORDER BY sequence) AS nth
    FROM events
    WHERE type = 'tool_call.requested'
), completed AS (
    SELECT scenario, sequence, data ->> '$.tool_call_id' AS tool_call_id, data ->> '$.outcome.status' AS outcome,
           row_number() OVER (PARTITION BY scenario, data ->> '$.tool_call_id' ORDER BY sequence) AS nth
    FROM events
    WHERE type = 'tool_call.completed'
)
SELECT r.scenario, r.tool_call_id, r.name, r.run_id, r.sequence AS requested_sequence,
       c.sequence AS completed_sequence, c.outcome
FROM requested AS r
LEFT JOIN completed AS c
  ON c.scenario = r.scenario AND c.tool_call_id IS NOT DISTINCT FROM r.tool_call_id AND c.nth = r.nth
ORDER BY r.scenario, r.sequence;
