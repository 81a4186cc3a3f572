-- premium-debit ledger, schema version 1.
-- The schema itself holds the invariants of SPEC §6 that a constraint can hold:
--   §6.1 one_awaiting: at most one instruction per resident and period awaits a result;
--   §6.2 one_success:  at most one success per resident and period is recorded as collected;
--   §6.5 unique keys:  the same file, batch, instruction or attempt cannot be recorded twice;
--   §6.6 triggers:     history tables are append-only.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per command that changed something; a refused or dry run records none.
CREATE TABLE runs (
    run_id     TEXT PRIMARY KEY,
    command    TEXT NOT NULL,
    as_of      TEXT NOT NULL,           -- business date YYYY-MM-DD
    started_at TEXT NOT NULL            -- wall clock, UTC ISO 8601
);

-- Every accepted input, known by the SHA-256 of its bytes.
CREATE TABLE files (
    sha256      TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('due', 'registry', 'paid', 'result')),
    run_id      TEXT NOT NULL REFERENCES runs(run_id),
    received_at TEXT NOT NULL,
    batch_id    TEXT,                   -- result files: the batch they answer
    archived_as TEXT                    -- path of the raw bytes under archive/
);
-- SPEC §5: a different result file for a batch that already has one is refused.
CREATE UNIQUE INDEX files_one_result_per_batch ON files(batch_id) WHERE kind = 'result';

-- Current state of each resident and period: the materialised end of `transitions`.
CREATE TABLE residents (
    person_id      TEXT NOT NULL,
    period         INTEGER NOT NULL,
    township       TEXT NOT NULL,
    village        TEXT,
    name           TEXT NOT NULL,
    category       TEXT,
    amount_due_fen INTEGER NOT NULL CHECK (amount_due_fen >= 0),
    state          TEXT NOT NULL CHECK (state IN ('COLLECTED', 'AWAITING_RESULT', 'RETRY_PENDING',
                       'FAILED', 'REVIEW', 'PAID_ELSEWHERE', 'EXCLUDED', 'REJECTED')),
    attempts       INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_reason    TEXT,
    state_since    TEXT NOT NULL,       -- business date of the last state change (retry waits on it)
    PRIMARY KEY (person_id, period)
) WITHOUT ROWID;

-- Append-only history of resident states (SPEC §6.6).
CREATE TABLE transitions (
    person_id      TEXT NOT NULL,
    period         INTEGER NOT NULL,
    state          TEXT NOT NULL,
    reason         TEXT,
    run_id         TEXT NOT NULL,
    file_sha256    TEXT,
    source_line    INTEGER,
    instruction_id TEXT,
    at             TEXT NOT NULL
);

CREATE TABLE batches (
    batch_id      TEXT PRIMARY KEY,
    bank_code     TEXT NOT NULL,
    period        INTEGER NOT NULL,
    business_date TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('build', 'retry')),
    run_id        TEXT NOT NULL REFERENCES runs(run_id),
    count         INTEGER NOT NULL,
    total_fen     INTEGER NOT NULL,
    file_name     TEXT NOT NULL,
    file_sha256   TEXT NOT NULL,        -- the request file's bytes, for byte-identical re-rendering
    encoding      TEXT NOT NULL,
    layout        TEXT NOT NULL,        -- the bank format in force when the batch was built
    policy        TEXT,                 -- JSON: the retry policy in force (SPEC §7)
    UNIQUE (bank_code, business_date, seq)
);

CREATE TABLE instructions (
    instruction_id TEXT PRIMARY KEY,
    batch_id       TEXT NOT NULL REFERENCES batches(batch_id),
    seq            INTEGER NOT NULL,
    person_id      TEXT NOT NULL,
    period         INTEGER NOT NULL,
    township       TEXT NOT NULL,
    attempt        INTEGER NOT NULL CHECK (attempt >= 1),
    account_no     TEXT NOT NULL,
    name           TEXT NOT NULL,
    amount_fen     INTEGER NOT NULL CHECK (amount_fen > 0),
    status         TEXT NOT NULL DEFAULT 'AWAITING'
                   CHECK (status IN ('AWAITING', 'SUCCEEDED', 'FAILED', 'REVIEW')),
    outcome        TEXT,                -- §4.3 outcome or §5 review class
    debited_fen    INTEGER,
    result_sha256  TEXT,
    result_line    INTEGER,
    UNIQUE (person_id, period, attempt)
) WITHOUT ROWID;
-- instruction_id = batch_id + seq, so the primary key already orders and finds a batch's
-- instructions (a key range); no separate (batch_id, seq) index is kept.
CREATE UNIQUE INDEX instructions_one_awaiting ON instructions(person_id, period)
    WHERE status = 'AWAITING';
CREATE UNIQUE INDEX instructions_one_success ON instructions(person_id, period)
    WHERE status = 'SUCCEEDED';

-- Every detail row of every accepted result file, matched or not (append-only).
CREATE TABLE results (
    file_sha256    TEXT NOT NULL,
    line           INTEGER NOT NULL,
    batch_id       TEXT NOT NULL,
    instruction_id TEXT NOT NULL,
    account_no     TEXT NOT NULL,
    amount_fen     INTEGER NOT NULL,
    debited_fen    INTEGER NOT NULL,
    code           TEXT NOT NULL,
    message        TEXT,
    bank_ref       TEXT,
    class          TEXT NOT NULL,       -- outcome or review class given to this row
    PRIMARY KEY (file_sha256, line)
);

-- Paid-elsewhere records (SPEC §2.3), deduplicated.
CREATE TABLE payments (
    person_id   TEXT NOT NULL,
    period      INTEGER NOT NULL,
    amount_fen  INTEGER NOT NULL,
    channel     TEXT NOT NULL,
    paid_at     TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    source_line INTEGER NOT NULL,
    run_id      TEXT NOT NULL,
    UNIQUE (person_id, period, channel, paid_at, amount_fen)
);

-- Operators' settlements of review cases (SPEC §5), append-only.
CREATE TABLE resolutions (
    instruction_id TEXT NOT NULL REFERENCES instructions(instruction_id),
    decision       TEXT NOT NULL CHECK (decision IN ('succeeded', 'failed')),
    operator       TEXT NOT NULL,
    note           TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    at             TEXT NOT NULL
);

-- Double payments found by any command (SPEC §9 refunds.csv), one per resident and cause.
CREATE TABLE refunds (
    person_id      TEXT NOT NULL,
    period         INTEGER NOT NULL,
    instruction_id TEXT NOT NULL,
    amount_fen     INTEGER NOT NULL,
    cause          TEXT NOT NULL,       -- PAID_ELSEWHERE or SECOND_SUCCESS
    run_id         TEXT NOT NULL,
    at             TEXT NOT NULL,
    UNIQUE (instruction_id, cause)
);

CREATE TRIGGER transitions_append_only_u BEFORE UPDATE ON transitions
BEGIN SELECT RAISE(ABORT, 'transitions are append-only'); END;
CREATE TRIGGER transitions_append_only_d BEFORE DELETE ON transitions
BEGIN SELECT RAISE(ABORT, 'transitions are append-only'); END;
CREATE TRIGGER results_append_only_u BEFORE UPDATE ON results
BEGIN SELECT RAISE(ABORT, 'results are append-only'); END;
CREATE TRIGGER results_append_only_d BEFORE DELETE ON results
BEGIN SELECT RAISE(ABORT, 'results are append-only'); END;
CREATE TRIGGER resolutions_append_only_u BEFORE UPDATE ON resolutions
BEGIN SELECT RAISE(ABORT, 'resolutions are append-only'); END;
CREATE TRIGGER resolutions_append_only_d BEFORE DELETE ON resolutions
BEGIN SELECT RAISE(ABORT, 'resolutions are append-only'); END;
-- An instruction's final outcome never changes, except a review being settled.
CREATE TRIGGER instructions_final_outcome BEFORE UPDATE OF status ON instructions
WHEN OLD.status IN ('SUCCEEDED', 'FAILED')
BEGIN SELECT RAISE(ABORT, 'an instruction''s final outcome cannot change'); END;
CREATE TRIGGER instructions_no_delete BEFORE DELETE ON instructions
BEGIN SELECT RAISE(ABORT, 'instructions are never deleted'); END;
CREATE TRIGGER batches_no_delete BEFORE DELETE ON batches
BEGIN SELECT RAISE(ABORT, 'batches are never deleted'); END;
