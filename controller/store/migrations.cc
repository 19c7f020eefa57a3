#include "controller/store/migrations.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace nas::controller {
namespace {

// Version 1: the tables. Column meanings are documented in docs/schema.md.
constexpr char kCreateTables[] = R"sql(
CREATE TABLE searches (
  id                  bigserial PRIMARY KEY,
  name                text NOT NULL DEFAULT '',
  spec                jsonb NOT NULL,
  state               text NOT NULL DEFAULT 'RUNNING'
                      CHECK (state IN ('RUNNING', 'COMPLETED', 'CANCELLED')),
  max_trials          integer NOT NULL CHECK (max_trials >= 1),
  parallelism         integer NOT NULL CHECK (parallelism >= 1),
  max_attempts        integer NOT NULL CHECK (max_attempts >= 1),
  objective_metric    text NOT NULL
                      CHECK (objective_metric IN ('val_accuracy', 'test_accuracy',
                             'val_loss', 'params', 'flops', 'latency_ms',
                             'train_seconds')),
  objective_direction text NOT NULL
                      CHECK (objective_direction IN ('MAXIMIZE', 'MINIMIZE')),
  created_at          timestamptz NOT NULL DEFAULT now(),
  finished_at         timestamptz,
  CHECK ((state = 'RUNNING') = (finished_at IS NULL))
);
CREATE INDEX searches_running_idx ON searches (id) WHERE state = 'RUNNING';

CREATE TABLE trials (
  id               bigserial PRIMARY KEY,
  search_id        bigint NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
  number           integer NOT NULL CHECK (number >= 0),
  state            text NOT NULL DEFAULT 'PENDING'
                   CHECK (state IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED',
                                    'STOPPED', 'CANCELLED')),
  kind             text NOT NULL DEFAULT 'TRAIN' CHECK (kind IN ('TRAIN')),
  arch_text        text NOT NULL DEFAULT '',
  arch_choices     integer[] NOT NULL DEFAULT '{}',
  canonical_key    text NOT NULL DEFAULT '',
  budget           jsonb NOT NULL DEFAULT '{}',
  seed             bigint NOT NULL DEFAULT 0,
  attempt          integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  worker_id        text,
  lease_expires_at timestamptz,
  val_accuracy     double precision,
  val_loss         double precision,
  test_accuracy    double precision,
  test_loss        double precision,
  params           bigint,
  flops            bigint,
  latency_ms       double precision,
  train_seconds    double precision,
  reason           text NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  UNIQUE (search_id, number),
  CHECK (state <> 'RUNNING' OR
         (worker_id IS NOT NULL AND lease_expires_at IS NOT NULL))
);
-- LeaseTrial: the oldest PENDING trial of the oldest search.
CREATE INDEX trials_pending_idx ON trials (search_id, number)
  WHERE state = 'PENDING';
-- ExpireLeases: RUNNING trials by lease end.
CREATE INDEX trials_lease_idx ON trials (lease_expires_at)
  WHERE state = 'RUNNING';
CREATE INDEX trials_canonical_key_idx ON trials (search_id, canonical_key);

CREATE TABLE trial_epochs (
  trial_id     bigint NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
  attempt      integer NOT NULL,
  epoch        integer NOT NULL,
  train_loss   double precision NOT NULL,
  val_loss     double precision NOT NULL,
  val_accuracy double precision NOT NULL,
  seconds      double precision NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (trial_id, attempt, epoch)
);

CREATE SEQUENCE worker_id_seq;
CREATE TABLE workers (
  id                  text PRIMARY KEY
                      DEFAULT 'w-' || nextval('worker_id_seq'),
  host                text NOT NULL DEFAULT '',
  device_type         text NOT NULL DEFAULT 'UNSPECIFIED'
                      CHECK (device_type IN ('UNSPECIFIED', 'CPU', 'CUDA')),
  device_name         text NOT NULL DEFAULT '',
  device_memory_bytes bigint NOT NULL DEFAULT 0,
  registered_at       timestamptz NOT NULL DEFAULT now(),
  last_seen_at        timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE worker_id_seq OWNED BY workers.id;
)sql";

// Version 2: read-only views for people and dashboards.
constexpr char kCreateViews[] = R"sql(
CREATE VIEW trial_history AS
SELECT t.id AS trial_id,
       t.search_id,
       s.name AS search_name,
       t.number,
       t.state,
       t.kind,
       t.arch_text AS architecture,
       t.arch_choices,
       t.attempt,
       t.worker_id,
       t.val_accuracy,
       t.val_loss,
       t.test_accuracy,
       t.test_loss,
       t.params,
       t.flops,
       t.latency_ms,
       t.train_seconds,
       t.reason,
       t.created_at,
       t.started_at,
       t.finished_at,
       t.finished_at - t.started_at AS last_attempt_duration
FROM trials t
JOIN searches s ON s.id = t.search_id;

-- The fixed whitelist from objective names to columns: the CASE below.
-- kObjectiveMetrics (proto_rows.cc) must list the same metrics.
CREATE VIEW best_trials AS
WITH scored AS (
  SELECT t.id AS trial_id,
         t.search_id,
         s.name AS search_name,
         t.number,
         t.arch_text AS architecture,
         s.objective_metric,
         s.objective_direction,
         CASE s.objective_metric
           WHEN 'val_accuracy' THEN t.val_accuracy
           WHEN 'test_accuracy' THEN t.test_accuracy
           WHEN 'val_loss' THEN t.val_loss
           WHEN 'params' THEN t.params::double precision
           WHEN 'flops' THEN t.flops::double precision
           WHEN 'latency_ms' THEN t.latency_ms
           WHEN 'train_seconds' THEN t.train_seconds
         END AS objective_value,
         t.val_accuracy,
         t.val_loss,
         t.test_accuracy,
         t.test_loss,
         t.params,
         t.flops,
         t.latency_ms,
         t.train_seconds,
         t.finished_at
  FROM trials t
  JOIN searches s ON s.id = t.search_id
  WHERE t.state = 'COMPLETED'
)
SELECT rank() OVER (
         PARTITION BY search_id
         ORDER BY CASE WHEN objective_direction = 'MAXIMIZE'
                       THEN -objective_value ELSE objective_value END
                  NULLS LAST) AS rank,
       scored.*
FROM scored;

CREATE VIEW epoch_metrics AS
SELECT t.search_id,
       t.number AS trial_number,
       e.trial_id,
       e.attempt,
       e.attempt = t.attempt AS current_attempt,
       e.epoch,
       e.train_loss,
       e.val_loss,
       e.val_accuracy,
       e.seconds,
       e.recorded_at
FROM trial_epochs e
JOIN trials t ON t.id = e.trial_id;
)sql";

// Version 3: who created each search (a token name; '' when authentication
// is off), so that clients see only their own.
constexpr char kAddSearchOwner[] = R"sql(
ALTER TABLE searches ADD COLUMN owner text NOT NULL DEFAULT '';
CREATE INDEX searches_owner_idx ON searches (owner, id);
)sql";

// Version 4: searches can end FAILED, and say why a search ended as it did.
constexpr char kAddSearchStateReason[] = R"sql(
ALTER TABLE searches ADD COLUMN state_reason text NOT NULL DEFAULT '';
ALTER TABLE searches DROP CONSTRAINT searches_state_check;
ALTER TABLE searches ADD CONSTRAINT searches_state_check
  CHECK (state IN ('RUNNING', 'COMPLETED', 'CANCELLED', 'FAILED'));
)sql";

// Version 5: workers have a name people chose and say what they can run
// (NULL capabilities: an older worker that declared nothing and is offered
// every trial); trial reasons join lines with a newline between them, so
// the trailing newline older versions appended goes.
constexpr char kAddWorkerCapabilities[] = R"sql(
ALTER TABLE workers ADD COLUMN name text NOT NULL DEFAULT '';
ALTER TABLE workers ADD COLUMN estimator text NOT NULL DEFAULT '';
ALTER TABLE workers ADD COLUMN capabilities text[];
CREATE INDEX workers_last_seen_idx ON workers (last_seen_at);
UPDATE trials SET reason = rtrim(reason, E'\n') WHERE reason LIKE E'%\n';
)sql";

// Version 7: every table, view and column documents itself (\d+ in psql,
// or obj_description / col_description), in the words of docs/schema.md.
// A migration that adds a column adds its comment too;
// migrations_test.cc checks that none is missing.
constexpr char kCommentSchema[] = R"sql(
COMMENT ON TABLE schema_migrations IS
  'Schema migrations applied to this database (controller/store/migrations.cc), one row each.';
COMMENT ON COLUMN schema_migrations.version IS 'Migration number.';
COMMENT ON COLUMN schema_migrations.name IS 'Migration name.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When it was applied.';

COMMENT ON TABLE searches IS 'One row per submitted search.';
COMMENT ON COLUMN searches.id IS 'The search id of the API.';
COMMENT ON COLUMN searches.name IS 'spec.name, stored verbatim: a label for people.';
COMMENT ON COLUMN searches.spec IS
  'The whole nas.v1.SearchSpec as protobuf JSON with proto field names, every default filled in (strategy options included); enums as names, seed as a string.';
COMMENT ON COLUMN searches.state IS
  'RUNNING, COMPLETED, CANCELLED or FAILED; state_reason says why it ended so.';
COMMENT ON COLUMN searches.max_trials IS 'spec.budget.max_trials.';
COMMENT ON COLUMN searches.parallelism IS 'spec.budget.parallelism: trials in flight at once.';
COMMENT ON COLUMN searches.max_attempts IS
  'spec.budget.max_attempts: leases a trial may get before it ends FAILED.';
COMMENT ON COLUMN searches.objective_metric IS
  'Metric of the first objective (val_accuracy, test_accuracy, val_loss, params, flops, latency_ms or train_seconds).';
COMMENT ON COLUMN searches.objective_direction IS 'MAXIMIZE or MINIMIZE.';
COMMENT ON COLUMN searches.created_at IS 'When it was submitted.';
COMMENT ON COLUMN searches.finished_at IS
  'When it completed, failed or was cancelled; NULL exactly while RUNNING.';
COMMENT ON COLUMN searches.owner IS
  'Name of the token that created it (tokens file); empty when authentication was off.';
COMMENT ON COLUMN searches.state_reason IS
  'Why it ended as it did (e.g. space exhausted), or why a RUNNING search makes no progress; empty when there is nothing to say.';

COMMENT ON TABLE trials IS
  'One row per candidate architecture: PENDING -> RUNNING -> COMPLETED | FAILED | STOPPED | CANCELLED; finished trials never change.';
COMMENT ON COLUMN trials.id IS 'The trial id of the API.';
COMMENT ON COLUMN trials.search_id IS 'Its search.';
COMMENT ON COLUMN trials.number IS '0-based position in its search, assigned when proposed.';
COMMENT ON COLUMN trials.state IS
  'PENDING, RUNNING, COMPLETED, FAILED, STOPPED (ended early by the controller) or CANCELLED (its search was cancelled).';
COMMENT ON COLUMN trials.kind IS 'How it is estimated: TRAIN (train from scratch).';
COMMENT ON COLUMN trials.arch_text IS
  'Canonical text of the architecture (the NAS-Bench-201 string, or name=option pairs).';
COMMENT ON COLUMN trials.arch_choices IS 'One option index per decision point of the space.';
COMMENT ON COLUMN trials.canonical_key IS 'Equal for architectures that compute the same function.';
COMMENT ON COLUMN trials.budget IS 'The nas.v1.TrainingBudget as protobuf JSON.';
COMMENT ON COLUMN trials.seed IS
  'Training seed: a uint64 stored as its int64 bit pattern (values above 2^63 read as negative).';
COMMENT ON COLUMN trials.attempt IS
  'Leases given so far; also the fencing token every worker report must carry.';
COMMENT ON COLUMN trials.worker_id IS
  'The worker holding (or that last held) the lease; NULL while never leased.';
COMMENT ON COLUMN trials.lease_expires_at IS 'End of the current lease; set only while RUNNING.';
COMMENT ON COLUMN trials.val_accuracy IS
  'Final validation accuracy, a fraction in [0, 1]; NULL until COMPLETED or when not measured.';
COMMENT ON COLUMN trials.val_loss IS
  'Final validation loss; NULL until COMPLETED or when its estimator does not measure it (tabular).';
COMMENT ON COLUMN trials.test_accuracy IS
  'Final test accuracy, a fraction in [0, 1]; NULL until COMPLETED or when not measured.';
COMMENT ON COLUMN trials.test_loss IS
  'Final test loss; NULL until COMPLETED or when its estimator does not measure it (tabular).';
COMMENT ON COLUMN trials.params IS 'Trainable parameters; NULL until COMPLETED.';
COMMENT ON COLUMN trials.flops IS
  'Multiply-accumulates of one forward pass of one image; NULL until COMPLETED.';
COMMENT ON COLUMN trials.latency_ms IS
  'Median forward latency of one image (batch 1) on the worker''s device; NULL until COMPLETED or when not measured (tabular).';
COMMENT ON COLUMN trials.train_seconds IS 'Wall time of training; NULL until COMPLETED.';
COMMENT ON COLUMN trials.reason IS
  'One line per attempt that ended badly (attempt 2 on worker w-3: lease expired), or cancelled with its search.';
COMMENT ON COLUMN trials.created_at IS 'When the controller proposed it.';
COMMENT ON COLUMN trials.started_at IS 'Start of the latest lease.';
COMMENT ON COLUMN trials.finished_at IS 'When it reached a final state.';

COMMENT ON TABLE trial_epochs IS
  'Per-epoch metrics as workers report them; the epochs of earlier (expired) attempts stay as history.';
COMMENT ON COLUMN trial_epochs.trial_id IS 'The trial.';
COMMENT ON COLUMN trial_epochs.attempt IS 'The lease attempt that reported it.';
COMMENT ON COLUMN trial_epochs.epoch IS '1-based epoch number.';
COMMENT ON COLUMN trial_epochs.train_loss IS 'Mean training loss of the epoch.';
COMMENT ON COLUMN trial_epochs.val_loss IS 'Validation loss after the epoch.';
COMMENT ON COLUMN trial_epochs.val_accuracy IS 'Validation accuracy after the epoch, a fraction in [0, 1].';
COMMENT ON COLUMN trial_epochs.seconds IS 'Wall seconds of the epoch.';
COMMENT ON COLUMN trial_epochs.recorded_at IS 'When the controller stored it.';

COMMENT ON TABLE workers IS 'One row per worker registration.';
COMMENT ON COLUMN workers.id IS 'w- and a number, e.g. w-12: the worker id of the API.';
COMMENT ON COLUMN workers.host IS 'Host name the worker reported.';
COMMENT ON COLUMN workers.device_type IS 'CPU, CUDA or UNSPECIFIED.';
COMMENT ON COLUMN workers.device_name IS 'The GPU or CPU model.';
COMMENT ON COLUMN workers.device_memory_bytes IS 'Device memory (host memory for CPU workers).';
COMMENT ON COLUMN workers.registered_at IS 'Registration time.';
COMMENT ON COLUMN workers.last_seen_at IS 'Last call from the worker.';
COMMENT ON COLUMN workers.name IS
  'Name the worker was started with (nas-worker --name; default HOST/DEVICE).';
COMMENT ON COLUMN workers.estimator IS 'The estimator the worker runs, as it reported it (e.g. torch, tabular).';
COMMENT ON COLUMN workers.capabilities IS
  'What it can run, as space:dataset tokens (e.g. chain:DATASET_NAME_MNIST, nb201:* for any data set); NULL: an older worker that declared nothing and is offered every trial.';

COMMENT ON VIEW trial_history IS
  'Every trial with its search''s name, final metrics and timestamps, for reading.';
COMMENT ON COLUMN trial_history.trial_id IS 'trials.id.';
COMMENT ON COLUMN trial_history.search_id IS 'Its search.';
COMMENT ON COLUMN trial_history.search_name IS 'searches.name of its search.';
COMMENT ON COLUMN trial_history.number IS '0-based position in its search.';
COMMENT ON COLUMN trial_history.state IS 'trials.state.';
COMMENT ON COLUMN trial_history.kind IS 'trials.kind.';
COMMENT ON COLUMN trial_history.architecture IS 'trials.arch_text: canonical text of the architecture.';
COMMENT ON COLUMN trial_history.arch_choices IS 'One option index per decision point.';
COMMENT ON COLUMN trial_history.attempt IS 'Leases given so far.';
COMMENT ON COLUMN trial_history.worker_id IS 'The worker that holds or last held the lease.';
COMMENT ON COLUMN trial_history.val_accuracy IS 'trials.val_accuracy (NULL: not measured).';
COMMENT ON COLUMN trial_history.val_loss IS 'trials.val_loss (NULL: not measured).';
COMMENT ON COLUMN trial_history.test_accuracy IS 'trials.test_accuracy (NULL: not measured).';
COMMENT ON COLUMN trial_history.test_loss IS 'trials.test_loss (NULL: not measured).';
COMMENT ON COLUMN trial_history.params IS 'trials.params.';
COMMENT ON COLUMN trial_history.flops IS 'trials.flops.';
COMMENT ON COLUMN trial_history.latency_ms IS 'trials.latency_ms (NULL: not measured).';
COMMENT ON COLUMN trial_history.train_seconds IS 'trials.train_seconds.';
COMMENT ON COLUMN trial_history.reason IS 'trials.reason: one line per attempt that ended badly.';
COMMENT ON COLUMN trial_history.created_at IS 'When the controller proposed it.';
COMMENT ON COLUMN trial_history.started_at IS 'Start of the latest lease.';
COMMENT ON COLUMN trial_history.finished_at IS 'When it reached a final state.';
COMMENT ON COLUMN trial_history.last_attempt_duration IS 'finished_at - started_at: how long the last attempt ran.';

COMMENT ON VIEW best_trials IS
  'COMPLETED trials ranked within their search by its first objective (ties share a rank); constraints are not applied here.';
COMMENT ON COLUMN best_trials.rank IS '1 for the best trial of its search.';
COMMENT ON COLUMN best_trials.trial_id IS 'trials.id.';
COMMENT ON COLUMN best_trials.search_id IS 'Its search.';
COMMENT ON COLUMN best_trials.search_name IS 'searches.name of its search.';
COMMENT ON COLUMN best_trials.number IS '0-based position in its search.';
COMMENT ON COLUMN best_trials.architecture IS 'trials.arch_text.';
COMMENT ON COLUMN best_trials.objective_metric IS 'searches.objective_metric.';
COMMENT ON COLUMN best_trials.objective_direction IS 'searches.objective_direction.';
COMMENT ON COLUMN best_trials.objective_value IS
  'The trial''s value of objective_metric; NULL (ranked last) when not measured.';
COMMENT ON COLUMN best_trials.val_accuracy IS 'trials.val_accuracy.';
COMMENT ON COLUMN best_trials.val_loss IS 'trials.val_loss.';
COMMENT ON COLUMN best_trials.test_accuracy IS 'trials.test_accuracy.';
COMMENT ON COLUMN best_trials.test_loss IS 'trials.test_loss.';
COMMENT ON COLUMN best_trials.params IS 'trials.params.';
COMMENT ON COLUMN best_trials.flops IS 'trials.flops.';
COMMENT ON COLUMN best_trials.latency_ms IS 'trials.latency_ms.';
COMMENT ON COLUMN best_trials.train_seconds IS 'trials.train_seconds.';
COMMENT ON COLUMN best_trials.finished_at IS 'When the trial completed.';

COMMENT ON VIEW epoch_metrics IS 'One row per reported epoch, with its trial''s search and number.';
COMMENT ON COLUMN epoch_metrics.search_id IS 'The trial''s search.';
COMMENT ON COLUMN epoch_metrics.trial_number IS 'The trial''s position in its search.';
COMMENT ON COLUMN epoch_metrics.trial_id IS 'trials.id.';
COMMENT ON COLUMN epoch_metrics.attempt IS 'The lease attempt that reported it.';
COMMENT ON COLUMN epoch_metrics.current_attempt IS
  'True for the epochs of the trial''s latest attempt (the ones the API shows).';
COMMENT ON COLUMN epoch_metrics.epoch IS '1-based epoch number.';
COMMENT ON COLUMN epoch_metrics.train_loss IS 'Mean training loss of the epoch.';
COMMENT ON COLUMN epoch_metrics.val_loss IS 'Validation loss after the epoch.';
COMMENT ON COLUMN epoch_metrics.val_accuracy IS 'Validation accuracy after the epoch.';
COMMENT ON COLUMN epoch_metrics.seconds IS 'Wall seconds of the epoch.';
COMMENT ON COLUMN epoch_metrics.recorded_at IS 'When the controller stored it.';
)sql";

// Version 6: archived searches are hidden from ListSearches unless asked
// for. Only a finished search can be archived (ExtendSearch unarchives).
constexpr char kAddSearchArchivedAt[] = R"sql(
ALTER TABLE searches ADD COLUMN archived_at timestamptz;
ALTER TABLE searches ADD CONSTRAINT searches_archived_check
  CHECK (archived_at IS NULL OR state <> 'RUNNING');
COMMENT ON COLUMN searches.archived_at IS
  'When ArchiveSearch hid the search from ListSearches; NULL when not archived.';
)sql";

// Version 8: weight sharing. Trials get the kinds of a one-shot search
// (supernet shards, candidates scored with inherited weights, retrains)
// and the SupernetTask a shard or score works on; a search records how many
// trials it runs beyond max_trials. Supernet scores are estimates, so
// best_trials ranks real results only; CREATE OR REPLACE keeps the view's
// columns, comments, owner and the reader's grant. Capability tokens gain
// the trial kind ("<space>:<dataset>:<KIND>"): a worker registered before
// declared capabilities without kinds, which mean TRAIN and RETRAIN.
constexpr char kAddWeightSharing[] = R"sql(
ALTER TABLE trials DROP CONSTRAINT trials_kind_check;
ALTER TABLE trials ADD CONSTRAINT trials_kind_check
  CHECK (kind IN ('TRAIN', 'SUPERNET_SHARD', 'SCORE_INHERITED', 'RETRAIN'));
ALTER TABLE trials ADD COLUMN task jsonb;
ALTER TABLE trials ADD CONSTRAINT trials_task_check
  CHECK ((task IS NOT NULL) = (kind IN ('SUPERNET_SHARD', 'SCORE_INHERITED')));
ALTER TABLE searches ADD COLUMN extra_trials integer NOT NULL DEFAULT 0
  CHECK (extra_trials >= 0);

UPDATE workers
SET capabilities = ARRAY(SELECT token || kind
                         FROM unnest(capabilities) AS token,
                              unnest(ARRAY[':RETRAIN', ':TRAIN']) AS kind
                         ORDER BY (token || kind) COLLATE "C")
WHERE capabilities IS NOT NULL;

CREATE OR REPLACE VIEW best_trials AS
WITH scored AS (
  SELECT t.id AS trial_id,
         t.search_id,
         s.name AS search_name,
         t.number,
         t.arch_text AS architecture,
         s.objective_metric,
         s.objective_direction,
         CASE s.objective_metric
           WHEN 'val_accuracy' THEN t.val_accuracy
           WHEN 'test_accuracy' THEN t.test_accuracy
           WHEN 'val_loss' THEN t.val_loss
           WHEN 'params' THEN t.params::double precision
           WHEN 'flops' THEN t.flops::double precision
           WHEN 'latency_ms' THEN t.latency_ms
           WHEN 'train_seconds' THEN t.train_seconds
         END AS objective_value,
         t.val_accuracy,
         t.val_loss,
         t.test_accuracy,
         t.test_loss,
         t.params,
         t.flops,
         t.latency_ms,
         t.train_seconds,
         t.finished_at
  FROM trials t
  JOIN searches s ON s.id = t.search_id
  WHERE t.state = 'COMPLETED' AND t.kind IN ('TRAIN', 'RETRAIN')
)
SELECT rank() OVER (
         PARTITION BY search_id
         ORDER BY CASE WHEN objective_direction = 'MAXIMIZE'
                       THEN -objective_value ELSE objective_value END
                  NULLS LAST) AS rank,
       scored.*
FROM scored;

-- New columns go last: CREATE OR REPLACE VIEW may only append.
CREATE OR REPLACE VIEW trial_history AS
SELECT t.id AS trial_id,
       t.search_id,
       s.name AS search_name,
       t.number,
       t.state,
       t.kind,
       t.arch_text AS architecture,
       t.arch_choices,
       t.attempt,
       t.worker_id,
       t.val_accuracy,
       t.val_loss,
       t.test_accuracy,
       t.test_loss,
       t.params,
       t.flops,
       t.latency_ms,
       t.train_seconds,
       t.reason,
       t.created_at,
       t.started_at,
       t.finished_at,
       t.finished_at - t.started_at AS last_attempt_duration,
       t.task
FROM trials t
JOIN searches s ON s.id = t.search_id;

COMMENT ON COLUMN searches.extra_trials IS
  'Trials the search runs beyond max_trials: with weight sharing, its supernet shards (rounds x shards_per_round) and retrains (retrain_top_k); 0 otherwise. It completes at max_trials + extra_trials finished trials.';
COMMENT ON COLUMN trials.kind IS
  'How it is estimated: TRAIN (train from scratch), or with weight sharing SUPERNET_SHARD (train the supernet for a while), SCORE_INHERITED (score with the supernet''s weights: an estimate, never among best_trials) or RETRAIN (train a best-scored candidate from scratch).';
COMMENT ON COLUMN trials.task IS
  'The nas.v1.SupernetTask as protobuf JSON (checkpoint version, round, shard, optimizer settings); set exactly for SUPERNET_SHARD and SCORE_INHERITED trials.';
COMMENT ON COLUMN workers.capabilities IS
  'What it can run, as space:dataset:KIND tokens (e.g. chain:DATASET_NAME_MNIST:TRAIN, nb201:*:RETRAIN for any data set; KIND as in trials.kind); NULL: an older worker that declared nothing and is offered every trial.';
COMMENT ON COLUMN trial_history.task IS
  'trials.task: what a SUPERNET_SHARD or SCORE_INHERITED trial works on; NULL for the other kinds.';
COMMENT ON VIEW best_trials IS
  'COMPLETED TRAIN and RETRAIN trials ranked within their search by its first objective (ties share a rank); scores with inherited weights are estimates and never ranked here; constraints are not applied here.';
)sql";

// Version 9: weights for weight sharing. A checkpoint is either a merged
// supernet version of a search (version >= 1, gapless per search) or the
// upload of a trial's current lease (version 0, one per trial: a new upload
// replaces the old). Bytes live in 1 MiB chunks, stored uncompressed
// (tensors do not compress), so that no single value nears the 1 GB limit
// of a bytea and a read can stream them.
constexpr char kAddCheckpoints[] = R"sql(
CREATE TABLE checkpoints (
  id               bigserial PRIMARY KEY,
  search_id        bigint NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
  version          bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
  parent_version   bigint,
  trial_id         bigint REFERENCES trials (id) ON DELETE CASCADE,
  attempt          integer CHECK (attempt >= 1),
  merged_trial_ids bigint[] NOT NULL DEFAULT '{}',
  merge_weight     double precision NOT NULL DEFAULT 0,
  size             bigint NOT NULL CHECK (size >= 0),
  sha256           text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  created_at       timestamptz NOT NULL DEFAULT now(),
  CHECK ((version = 0) = (trial_id IS NOT NULL)),
  CHECK ((version = 0) = (attempt IS NOT NULL)),
  CHECK ((version = 0) = (parent_version IS NULL)),
  CHECK (parent_version >= 0 AND parent_version < version)
);
CREATE UNIQUE INDEX checkpoints_version_idx ON checkpoints (search_id, version)
  WHERE version > 0;
CREATE UNIQUE INDEX checkpoints_trial_idx ON checkpoints (trial_id)
  WHERE trial_id IS NOT NULL;

CREATE TABLE checkpoint_chunks (
  checkpoint_id bigint NOT NULL REFERENCES checkpoints (id) ON DELETE CASCADE,
  seq           integer NOT NULL CHECK (seq >= 0),
  data          bytea NOT NULL,
  PRIMARY KEY (checkpoint_id, seq)
);
ALTER TABLE checkpoint_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE VIEW checkpoint_lineage AS
SELECT c.id AS checkpoint_id,
       c.search_id,
       s.name AS search_name,
       CASE WHEN c.version > 0 THEN 'SUPERNET' ELSE 'TRIAL_UPLOAD' END AS kind,
       c.version,
       c.parent_version,
       t.number AS trial_number,
       c.attempt,
       ARRAY(SELECT m.number
             FROM unnest(c.merged_trial_ids) WITH ORDINALITY AS u (id, ord)
             JOIN trials m ON m.id = u.id
             ORDER BY u.ord) AS merged_trial_numbers,
       c.merged_trial_ids,
       c.trial_id,
       c.merge_weight,
       c.size,
       c.sha256,
       c.created_at
FROM checkpoints c
JOIN searches s ON s.id = c.search_id
LEFT JOIN trials t ON t.id = c.trial_id;

COMMENT ON TABLE checkpoints IS
  'Stored weights (tensor archives): merged supernet versions of a search (version >= 1) and the uploads of trials (version 0); bytes in checkpoint_chunks.';
COMMENT ON COLUMN checkpoints.id IS 'Internal id; checkpoint_chunks.checkpoint_id.';
COMMENT ON COLUMN checkpoints.search_id IS 'Its search.';
COMMENT ON COLUMN checkpoints.version IS
  'Supernet version (1, 2, ... without gaps per search), or 0 for a trial''s upload.';
COMMENT ON COLUMN checkpoints.parent_version IS
  'Supernet versions: the version the merged shards trained from (0: fresh weights); NULL for trial uploads.';
COMMENT ON COLUMN checkpoints.trial_id IS
  'Trial uploads: the trial whose lease uploaded it (one upload per trial, the latest); NULL for supernet versions.';
COMMENT ON COLUMN checkpoints.attempt IS
  'Trial uploads: the lease attempt that uploaded it; NULL for supernet versions.';
COMMENT ON COLUMN checkpoints.merged_trial_ids IS
  'Supernet versions: the shard trials (trials.id) merged into it; empty for trial uploads.';
COMMENT ON COLUMN checkpoints.merge_weight IS
  'Trial uploads: how much a shard counts when merged (the images it trained on); 0 for supernet versions.';
COMMENT ON COLUMN checkpoints.size IS 'Bytes of the whole checkpoint.';
COMMENT ON COLUMN checkpoints.sha256 IS
  'Lower-case hex SHA-256 of the whole checkpoint, checked on every read.';
COMMENT ON COLUMN checkpoints.created_at IS 'When it was stored.';

COMMENT ON TABLE checkpoint_chunks IS
  'The bytes of each checkpoint in order, 1 MiB per row (the last may be shorter).';
COMMENT ON COLUMN checkpoint_chunks.checkpoint_id IS 'Its checkpoint.';
COMMENT ON COLUMN checkpoint_chunks.seq IS '0-based position of the chunk.';
COMMENT ON COLUMN checkpoint_chunks.data IS 'The bytes.';

COMMENT ON VIEW checkpoint_lineage IS
  'Every checkpoint without its bytes: which supernet version came from which parent and shard trials, and which trial uploaded what.';
COMMENT ON COLUMN checkpoint_lineage.checkpoint_id IS 'checkpoints.id.';
COMMENT ON COLUMN checkpoint_lineage.search_id IS 'Its search.';
COMMENT ON COLUMN checkpoint_lineage.search_name IS 'searches.name of its search.';
COMMENT ON COLUMN checkpoint_lineage.kind IS
  'SUPERNET (a merged version) or TRIAL_UPLOAD.';
COMMENT ON COLUMN checkpoint_lineage.version IS 'Supernet version; 0 for trial uploads.';
COMMENT ON COLUMN checkpoint_lineage.parent_version IS
  'The version the merged shards trained from; NULL for trial uploads.';
COMMENT ON COLUMN checkpoint_lineage.trial_number IS
  'Trial uploads: the uploading trial''s number in its search; NULL for supernet versions.';
COMMENT ON COLUMN checkpoint_lineage.attempt IS 'Trial uploads: the lease attempt that uploaded it.';
COMMENT ON COLUMN checkpoint_lineage.merged_trial_numbers IS
  'Supernet versions: the numbers of the shard trials merged into it, in merge order.';
COMMENT ON COLUMN checkpoint_lineage.merged_trial_ids IS 'checkpoints.merged_trial_ids.';
COMMENT ON COLUMN checkpoint_lineage.trial_id IS 'checkpoints.trial_id.';
COMMENT ON COLUMN checkpoint_lineage.merge_weight IS 'checkpoints.merge_weight.';
COMMENT ON COLUMN checkpoint_lineage.size IS 'Bytes of the whole checkpoint.';
COMMENT ON COLUMN checkpoint_lineage.sha256 IS 'Lower-case hex SHA-256 of the whole checkpoint.';
COMMENT ON COLUMN checkpoint_lineage.created_at IS 'When it was stored.';
)sql";

// Version 10: early stopping and zero-cost estimation. Each trial's rung
// (ASHA, Hyperband); ZERO_COST trials and their proxy scores.
constexpr char kAddRungsAndZeroCost[] = R"sql(
ALTER TABLE trials ADD COLUMN rung integer CHECK (rung >= 0);
ALTER TABLE trials ADD COLUMN zero_cost_score double precision;
ALTER TABLE trials DROP CONSTRAINT trials_kind_check;
ALTER TABLE trials ADD CONSTRAINT trials_kind_check
  CHECK (kind IN ('TRAIN', 'SUPERNET_SHARD', 'SCORE_INHERITED', 'RETRAIN',
                  'ZERO_COST'));

-- New columns go last: CREATE OR REPLACE VIEW may only append.
CREATE OR REPLACE VIEW trial_history AS
SELECT t.id AS trial_id,
       t.search_id,
       s.name AS search_name,
       t.number,
       t.state,
       t.kind,
       t.arch_text AS architecture,
       t.arch_choices,
       t.attempt,
       t.worker_id,
       t.val_accuracy,
       t.val_loss,
       t.test_accuracy,
       t.test_loss,
       t.params,
       t.flops,
       t.latency_ms,
       t.train_seconds,
       t.reason,
       t.created_at,
       t.started_at,
       t.finished_at,
       t.finished_at - t.started_at AS last_attempt_duration,
       t.task,
       t.rung,
       t.zero_cost_score
FROM trials t
JOIN searches s ON s.id = t.search_id;

COMMENT ON COLUMN trials.rung IS
  'Early stopping with rungs (ASHA, Hyperband): the highest rung whose epoch the trial reported (rung k is at min_epochs x reduction_factor^k epochs); NULL without rungs. A STOPPED trial stopped at this rung.';
COMMENT ON COLUMN trial_history.rung IS 'trials.rung.';
COMMENT ON COLUMN trials.zero_cost_score IS
  'ZERO_COST trials: the zero-cost proxy''s score at initialization (larger predicts more accurate; an estimate, never in best_trials); NULL for other kinds.';
COMMENT ON COLUMN trial_history.zero_cost_score IS 'trials.zero_cost_score.';
COMMENT ON COLUMN trials.kind IS
  'How it is estimated: TRAIN (train from scratch), with weight sharing SUPERNET_SHARD (train the supernet for a while), SCORE_INHERITED (score with the supernet''s weights: an estimate, never among best_trials), with zero cost ZERO_COST (score at initialization: an estimate, never among best_trials), and RETRAIN (train a best-estimated candidate from scratch).';
COMMENT ON COLUMN trials.state IS
  'PENDING, RUNNING, COMPLETED, FAILED, STOPPED (ended early by the search''s early_stopping rule; its metrics are its last epoch''s validation metrics) or CANCELLED (its search was cancelled).';
)sql";

// Version 11: the open (PENDING or RUNNING) trials of a search, found
// without reading its history: CompleteSearchIfDone checks this first, and
// only a search with none open takes its row lock and counts its trials.
constexpr char kAddOpenTrialsIndex[] = R"sql(
CREATE INDEX trials_open_idx ON trials (search_id)
  WHERE state IN ('PENDING', 'RUNNING');
)sql";

// Version 12: each search's trial counts by kind and state, so that
// GetSearch reads them without reading the search's history. Triggers on
// trials record every insert, change of state or kind, and delete as delta
// rows (-1 for the old kind and state, +1 for the new); FoldTrialCounts
// (maintenance) moves them into trial_counts. The deltas have no key and
// neither table references searches: one counter row per search would
// make its transitions wait for one another until each commit, and a
// foreign key would make each one take a share lock on the search row,
// which AddTrials and CancelSearch hold FOR UPDATE (CancelSearch, holding
// it, waits for a finishing trial's row: a deadlock). Instead a search's
// delete trigger drops its rows, under the lock FoldTrialCounts takes
// (TRIAL_COUNTS_LOCK_KEY, kTrialCountsLockKey), so that a fold running
// meanwhile cannot write them back.
// The triggers are created before the backfill: CREATE TRIGGER waits for
// writers of trials and holds them off until this commits, so the
// backfill, a later statement, counts every trial written before, and
// every trial written after is counted by the triggers.
constexpr char kAddTrialCounts[] = R"sql(
CREATE TABLE trial_counts (
  search_id bigint NOT NULL,
  kind      text NOT NULL,
  state     text NOT NULL,
  n         integer NOT NULL,
  PRIMARY KEY (search_id, kind, state)
);
CREATE TABLE trial_count_deltas (
  search_id bigint NOT NULL,
  kind      text NOT NULL,
  state     text NOT NULL,
  delta     integer NOT NULL CHECK (delta IN (-1, 1))
);
CREATE INDEX trial_count_deltas_search_idx ON trial_count_deltas (search_id);

CREATE FUNCTION record_trial_count_delta() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO trial_count_deltas (search_id, kind, state, delta)
    VALUES (NEW.search_id, NEW.kind, NEW.state, 1);
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO trial_count_deltas (search_id, kind, state, delta)
    VALUES (OLD.search_id, OLD.kind, OLD.state, -1),
           (NEW.search_id, NEW.kind, NEW.state, 1);
  -- A trial deleted with its search (ON DELETE CASCADE) finds the search
  -- row gone already; the search's counts go with it.
  ELSIF EXISTS (SELECT 1 FROM searches WHERE id = OLD.search_id) THEN
    INSERT INTO trial_count_deltas (search_id, kind, state, delta)
    VALUES (OLD.search_id, OLD.kind, OLD.state, -1);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER trials_count_insert_delete AFTER INSERT OR DELETE ON trials
  FOR EACH ROW EXECUTE FUNCTION record_trial_count_delta();
-- Heartbeats and epoch reports update trials without touching these
-- columns; they fire nothing.
CREATE TRIGGER trials_count_update
  AFTER UPDATE OF search_id, kind, state ON trials FOR EACH ROW
  WHEN (OLD.search_id IS DISTINCT FROM NEW.search_id
        OR OLD.kind IS DISTINCT FROM NEW.kind
        OR OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION record_trial_count_delta();

CREATE FUNCTION drop_trial_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(TRIAL_COUNTS_LOCK_KEY);
  DELETE FROM trial_count_deltas WHERE search_id = OLD.id;
  DELETE FROM trial_counts WHERE search_id = OLD.id;
  RETURN NULL;
END
$$;
CREATE TRIGGER searches_drop_trial_counts AFTER DELETE ON searches
  FOR EACH ROW EXECUTE FUNCTION drop_trial_counts();

INSERT INTO trial_counts (search_id, kind, state, n)
SELECT search_id, kind, state, count(*) FROM trials
GROUP BY search_id, kind, state;

COMMENT ON TABLE trial_counts IS
  'Trials per search, kind and state, as of the last fold; add the search''s trial_count_deltas rows for the current counts.';
COMMENT ON COLUMN trial_counts.search_id IS 'The search (searches.id).';
COMMENT ON COLUMN trial_counts.kind IS 'trials.kind.';
COMMENT ON COLUMN trial_counts.state IS 'trials.state.';
COMMENT ON COLUMN trial_counts.n IS 'How many of its trials had this kind and state at the last fold.';
COMMENT ON TABLE trial_count_deltas IS
  'Changes to trial_counts not yet folded into it, one row per trial inserted, deleted or changing state: -1 for the kind and state it left, +1 for those it entered.';
COMMENT ON COLUMN trial_count_deltas.search_id IS 'The search (searches.id).';
COMMENT ON COLUMN trial_count_deltas.kind IS 'trials.kind.';
COMMENT ON COLUMN trial_count_deltas.state IS 'trials.state.';
COMMENT ON COLUMN trial_count_deltas.delta IS '-1 or +1.';
)sql";

// Version 13: an epoch report or heartbeat moves only lease_expires_at.
// With an index on it, every such update wrote a new entry into each of
// the table's indexes; without one it can be a heap-only (HOT) update.
// ExpireLeases finds the RUNNING trials through trials_open_idx instead:
// they are at most the running searches' parallelism.
constexpr char kDropLeaseIndex[] = R"sql(
DROP INDEX trials_lease_idx;
)sql";

// Version 14: ASHA's promotion variant (AshaConfig.promote) pauses trials
// at rungs and resumes them later; those leases are not failures, so they
// do not count toward max_attempts.
constexpr char kAddPromotions[] = R"sql(
ALTER TABLE trials ADD COLUMN promotions integer NOT NULL DEFAULT 0
  CHECK (promotions >= 0);

CREATE OR REPLACE VIEW trial_history AS
SELECT t.id AS trial_id,
       t.search_id,
       s.name AS search_name,
       t.number,
       t.state,
       t.kind,
       t.arch_text AS architecture,
       t.arch_choices,
       t.attempt,
       t.worker_id,
       t.val_accuracy,
       t.val_loss,
       t.test_accuracy,
       t.test_loss,
       t.params,
       t.flops,
       t.latency_ms,
       t.train_seconds,
       t.reason,
       t.created_at,
       t.started_at,
       t.finished_at,
       t.finished_at - t.started_at AS last_attempt_duration,
       t.task,
       t.rung,
       t.zero_cost_score,
       t.promotions
FROM trials t
JOIN searches s ON s.id = t.search_id;

COMMENT ON COLUMN trials.promotions IS
  'Early stopping with promotion (asha or hyperband with promote): how many times the trial was paused at a rung (STOPPED, its training state kept) and resumed when later arrivals put it in the rung''s top. Its leases since are attempts too, but not failures: a trial may be leased max_attempts + promotions times.';
COMMENT ON COLUMN trial_history.promotions IS 'trials.promotions.';
)sql";

constexpr char kCreateMigrationsTable[] = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)
)sql";

void LockMigrations(pqxx::work& tx) {
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
}

}  // namespace

const std::vector<Migration>& AllMigrations() {
  static const auto* migrations = new std::vector<Migration>{
      {1, "create_tables", kCreateTables},
      {2, "create_views", kCreateViews},
      {3, "add_search_owner", kAddSearchOwner},
      {4, "add_search_state_reason", kAddSearchStateReason},
      {5, "add_worker_capabilities", kAddWorkerCapabilities},
      {6, "add_search_archived_at", kAddSearchArchivedAt},
      {7, "comment_schema", kCommentSchema},
      {8, "add_weight_sharing", kAddWeightSharing},
      {9, "add_checkpoints", kAddCheckpoints},
      {10, "add_rungs_and_zero_cost", kAddRungsAndZeroCost},
      {11, "add_open_trials_index", kAddOpenTrialsIndex},
      {12, "add_trial_counts",
       absl::StrReplaceAll(
           kAddTrialCounts,
           {{"TRIAL_COUNTS_LOCK_KEY", absl::StrCat(kTrialCountsLockKey)}})},
      {13, "drop_lease_index", kDropLeaseIndex},
      {14, "add_promotions", kAddPromotions},
  };
  return *migrations;
}

absl::Status ApplyMigrations(pqxx::connection& connection) {
  const std::vector<Migration>& migrations = AllMigrations();
  const int newest_known = migrations.empty() ? 0 : migrations.back().version;
  {
    // CREATE TABLE IF NOT EXISTS is not safe against a concurrent creator
    // on its own; the advisory lock makes it so.
    pqxx::work tx(connection);
    LockMigrations(tx);
    tx.exec0(kCreateMigrationsTable);
    const int newest_applied =
        tx.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0]
            .as<int>();
    tx.commit();
    if (newest_applied > newest_known) {
      return absl::FailedPreconditionError(
          absl::StrCat("database schema version ", newest_applied,
                       " is newer than this controller knows (", newest_known,
                       "); upgrade the controller"));
    }
  }
  for (const Migration& migration : migrations) {
    pqxx::work tx(connection);
    LockMigrations(tx);
    const pqxx::result applied =
        tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1",
                       migration.version);
    if (!applied.empty()) continue;  // the destructor rolls back
    tx.exec(migration.sql);
    tx.exec_params(
        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
        migration.version, migration.name);
    tx.commit();
  }
  return absl::OkStatus();
}

}  // namespace nas::controller
