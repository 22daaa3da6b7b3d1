/**
 * The table of the collector's named events: for each, its log line (level, category, message
 * template) and the metrics it changes. `events.ts` emits them; `docs/telemetry.md` is generated
 * from this table.
 * @module
 */
import type { Metrics } from "./metric_families.ts";

/** Fields an event carries. */
export type Fields = Record<string, unknown>;

export interface EventSpec {
  /** Level of the log line; `none` for events that only count. */
  readonly level: "debug" | "info" | "warning" | "error" | "none";
  /** Logger category shown in the line (`[main]`); default `pipeline`. */
  readonly category?: string;
  /** Log message template with `{field}` placeholders. */
  readonly message: string;
  /** Metric effects. */
  readonly count: (m: Metrics, f: Fields) => void;
  /** Metric names the event changes, for docs. */
  readonly metrics: readonly string[];
}

const n = (v: unknown) => (typeof v === "number" ? v : 1);
const s = (v: unknown) => String(v ?? "");

/** Every named event: its log line and the metrics it changes. */
export const EVENTS = {
  setup_started: {
    level: "info",
    category: "main",
    message: "Setup started for collector {name} (id {id})",
    count: () => {},
    metrics: [],
  },
  metrics_listening: {
    level: "info",
    category: "main",
    message: "Metrics and health endpoints listening on {address} (port {port})",
    count: () => {},
    metrics: [],
  },
  devo_trust_widened: {
    level: "warning",
    category: "output",
    message:
      "{setting} is in effect: Deno would trust server certificates through it beside chain, so Devo outputs refuse to connect until it is removed",
    count: () => {},
    metrics: [],
  },
  output_closed: {
    level: "warning",
    category: "output",
    message:
      "Output {output}: standard output was closed by its reader; stopping (unfinished messages are delivered on the next run)",
    count: () => {},
    metrics: [],
  },
  memory_limit: {
    level: "info",
    category: "main",
    message:
      "Memory limit {limit} (from {source}; container limit {cgroup}): {decode_threads} decode threads, read-ahead {read_ahead_bytes} bytes, {ahead_bytes} bytes of lines ahead per thread, row groups read whole up to {group_read_bytes} bytes, batches in flight {batches_in_flight} of at most {max_batch_bytes} bytes; a row group may need {row_group}",
    count: () => {},
    metrics: [],
  },
  decode_workers: {
    level: "info",
    category: "main",
    message: "Parquet objects are decoded on {threads} worker threads",
    count: () => {},
    metrics: [],
  },
  client_certificate_expiring: {
    level: "warning",
    category: "output",
    message:
      "The client certificate {path} of output {output} ({subject}) expires on {not_after}, in {days} days: renew it before Devo refuses it",
    count: () => {},
    metrics: [],
  },
  startup_warning: {
    level: "warning",
    category: "main",
    message: "{setting} {text}",
    count: () => {},
    metrics: [],
  },
  sender_statistics: {
    level: "info",
    category: "output",
    message: "{line}",
    count: () => {},
    metrics: [],
  },
  memory_report: {
    level: "info",
    category: "memory",
    message: "{line}",
    count: () => {},
    metrics: [],
  },
  input_ready: {
    level: "info",
    category: "main",
    message: "Setup terminated for input {input} ({type})",
    count: () => {},
    metrics: [],
  },
  completed_objects_remembered: {
    level: "info",
    category: "main",
    message: "PrePull step for input {input}: {completed} completed objects remembered",
    count: () => {},
    metrics: [],
  },
  obfuscation_summary: {
    level: "info",
    category: "main",
    message: "Input {input}: {fields} fields obfuscated in {events} events",
    count: () => {},
    metrics: [],
  },
  run_finished: {
    level: "info",
    category: "main",
    message:
      "Run finished: {messages} messages received, {deleted} deleted, {objects} objects delivered, {skipped} skipped, {failed} failed, {duplicates} duplicated events filtered out",
    count: () => {},
    metrics: [],
  },
  output_confirmed_total: {
    level: "info",
    category: "main",
    message: "Output {output}: {events} events ({bytes} bytes) confirmed",
    count: () => {},
    metrics: [],
  },
  state_reset: {
    level: "warning",
    category: "state",
    message: "reset_persistence_auth changed: the state of input {input} was cleared",
    count: () => {},
    metrics: [],
  },
  queue_visibility_short: {
    level: "warning",
    category: "main",
    message: "Queue visibility timeout is {seconds} seconds",
    count: () => {},
    metrics: [],
  },
  pull_started: {
    level: "info",
    category: "pipeline",
    message: "Pull started (@devo_pulling_id={id}): {count} messages",
    count: () => {},
    metrics: [],
  },
  pull_statistics: {
    level: "info",
    category: "pipeline",
    message: "{line}",
    count: () => {},
    metrics: [],
  },
  message_back_in_progress: {
    level: "warning",
    category: "pipeline",
    message: "Message {message_id} came back while in progress; its new receipt is used",
    count: () => {},
    metrics: [],
  },
  stop_signal: {
    level: "info",
    category: "main",
    message:
      "Received {signal}: stopping; work in progress gets up to {seconds} seconds to be confirmed",
    count: () => {},
    metrics: [],
  },
  stopping: {
    level: "info",
    category: "pipeline",
    message: "Stopping: waiting up to {seconds} seconds for {count} messages in progress",
    count: () => {},
    metrics: [],
  },
  stopping_reading: {
    level: "info",
    category: "pipeline",
    message: "Stopping work in progress: confirming what was sent and saving checkpoints",
    count: () => {},
    metrics: [],
  },
  shutdown_timeout: {
    level: "warning",
    category: "pipeline",
    message: "Shutdown timeout reached: events not confirmed yet are sent again later",
    count: () => {},
    metrics: [],
  },
  object_stopped: {
    level: "info",
    category: "pipeline",
    message: "Stopped reading s3://{bucket}/{key} for the shutdown after {events} events",
    count: () => {},
    metrics: [],
  },
  backfill_started: {
    level: "info",
    category: "backfill",
    message:
      "Backfill of input {input} from {from} (s3://{bucket}): {how}, {concurrency} objects at a time",
    count: () => {},
    metrics: [],
  },
  backfill_command_started: {
    level: "info",
    category: "backfill",
    message:
      "Backfill of input {input}: s3://{bucket} from {from} to {to}{shard}, {concurrency} objects at a time{resume}",
    count: () => {},
    metrics: [],
  },
  backfill_progress: {
    level: "info",
    category: "backfill",
    message: "{line}",
    count: () => {},
    metrics: [],
  },
  backfill_incomplete: {
    level: "error",
    category: "backfill",
    message:
      "Backfill of input {input} incomplete after {passes} passes; it goes on from its cursor at the next start",
    count: () => {},
    metrics: [],
  },
  backfill_retry_wait: {
    level: "warning",
    category: "backfill",
    message: "Backfill of input {input}: trying again in {seconds} seconds",
    count: () => {},
    metrics: [],
  },
  backfill_stopped_by_error: {
    level: "error",
    category: "backfill",
    message:
      "Backfill of input {input} stopped: {error}; {days} days, {delivered} objects delivered ({events} events, {filtered} filtered out, {bytes}), {duplicates} already complete, {skipped} skipped ({archived} archived), {failed} failed",
    count: () => {},
    metrics: [],
  },
  backfill_stopped: {
    level: "info",
    category: "backfill",
    message:
      "Backfill of input {input} stopped by shutdown: {days} days, {delivered} objects delivered ({events} events, {filtered} filtered out, {bytes}), {duplicates} already complete, {skipped} skipped ({archived} archived), {failed} failed",
    count: () => {},
    metrics: [],
  },
  backfill_ended_with_failures: {
    level: "warning",
    category: "backfill",
    message:
      "Backfill of input {input} ended with failures: {days} days, {delivered} objects delivered ({events} events, {filtered} filtered out, {bytes}), {duplicates} already complete, {skipped} skipped ({archived} archived), {failed} failed",
    count: () => {},
    metrics: [],
  },
  backfill_finished: {
    level: "info",
    category: "backfill",
    message:
      "Backfill of input {input} finished: {days} days, {delivered} objects delivered ({events} events, {filtered} filtered out, {bytes}), {duplicates} already complete, {skipped} skipped ({archived} archived), {failed} failed",
    count: () => {},
    metrics: [],
  },
  backfill_object_failed: {
    level: "warning",
    category: "backfill",
    message: "{key}: {error}",
    count: () => {},
    metrics: [],
  },
  batch_resend: {
    level: "warning",
    category: "output",
    message: "Output {output}: {error}; the batch will be sent again",
    count: () => {},
    metrics: [],
  },
  batch_resend_before_connect: {
    level: "debug",
    category: "output",
    message: "Output {output}: {error}; the batch will be sent again",
    count: () => {},
    metrics: [],
  },
  connection_confirmed: {
    level: "debug",
    category: "output",
    message: "Confirmed {events} events ({bytes} bytes) on {target}",
    count: () => {},
    metrics: [],
  },
  output_retry: {
    level: "warning",
    category: "output",
    message: "Output {output}: {error} (attempt {attempt} of {retries}); retrying",
    count: () => {},
    metrics: [],
  },
  batch_not_resent: {
    level: "info",
    category: "output",
    message: "{error}",
    count: () => {},
    metrics: [],
  },
  receiver_close_notify: {
    level: "debug",
    category: "output",
    message: "{target} ends confirmed connections {how}",
    count: () => {},
    metrics: [],
  },
  batch_limit_lowered: {
    level: "info",
    category: "output",
    message:
      "Output {output}: {target} ended a connection before confirming; sending at most {bytes} bytes per connection",
    count: () => {},
    metrics: [],
  },
  object_resumed: {
    level: "info",
    category: "pipeline",
    message: "Resuming {object} after {rows} confirmed rows",
    count: () => {},
    metrics: [],
  },
  object_retry: {
    level: "warning",
    category: "pipeline",
    message: "{error}; retrying from row {row} (attempt {attempt} of {attempts})",
    count: () => {},
    metrics: [],
  },
  object_events_truncated: {
    level: "warning",
    category: "pipeline",
    message:
      "{count} events of {object} were larger than max_event_bytes ({max} bytes) and were sent truncated",
    count: () => {},
    metrics: [],
  },
  credentials_obtained: {
    level: "info",
    category: "aws",
    message: "AWS credentials for {identity} obtained from {source}",
    count: () => {},
    metrics: [],
  },
  credentials_obtained_expiring: {
    level: "info",
    category: "aws",
    message: "AWS credentials for {identity} obtained from {source}; they expire at {expiration}",
    count: () => {},
    metrics: [],
  },
  credentials_renewed: {
    level: "info",
    category: "aws",
    message: "AWS credentials for {identity} renewed; they expire at {expiration}",
    count: () => {},
    metrics: [],
  },
  credentials_renewal_failed: {
    level: "warning",
    category: "aws",
    message:
      "AWS credentials for {identity} could not be renewed, the current ones expire at {expiration}: {error}",
    count: () => {},
    metrics: [],
  },
  decode_workers_unavailable: {
    level: "warning",
    category: "parquet",
    message:
      "Decode workers cannot start ({error}); Parquet objects are decoded on the main thread",
    count: () => {},
    metrics: [],
  },
  decode_worker_lost: {
    level: "warning",
    category: "parquet",
    message: "{error}; the rest of {object} is decoded on this thread, from row {row}",
    count: () => {},
    metrics: [],
  },
  state_file_corrupt: {
    level: "error",
    category: "state",
    message: "{error}",
    count: () => {},
    metrics: [],
  },
  startup_auth_wait: {
    level: "warning",
    message:
      "AWS refused input {input} at start-up ({error}); IAM changes take a while to reach every endpoint, so it is tried again in {seconds} s (until {until}, startup_auth_wait_seconds)",
    count: () => {},
    metrics: [],
  },
  messages_received: {
    level: "debug",
    message: "Received {count} messages",
    count: (m, f) => m.messagesReceived.inc({}, n(f.count)),
    metrics: ["seclake_messages_received_total"],
  },
  message_deleted: {
    level: "debug",
    message: "Message {message_id} deleted",
    count: (m) => m.messagesDeleted.inc(),
    metrics: ["seclake_messages_deleted_total"],
  },
  message_left: {
    level: "warning",
    message: "Message {message_id} left on the queue to be retried",
    count: (m) => m.messagesLeft.inc(),
    metrics: ["seclake_messages_left_total"],
  },
  message_released: {
    level: "info",
    message: "Message {message_id} released for another consumer",
    count: (m) => m.messagesReleased.inc(),
    metrics: ["seclake_messages_released_total"],
  },
  message_quarantined: {
    level: "error",
    message: "Message {message_id} quarantined after {receive_count} receives: {reason}",
    count: (m) => m.messagesQuarantined.inc(),
    metrics: ["seclake_messages_quarantined_total"],
  },
  test_event: {
    level: "info",
    message: "S3 test event received; deleting it",
    count: (m) => m.testEvents.inc(),
    metrics: ["seclake_test_events_total"],
  },
  object_skipped: {
    level: "info",
    message: "Skipping {key}: {reason}",
    count: (m, f) => {
      m.objects.inc({ result: "skipped" });
      m.objectsSkipped.inc({ reason: s(f.reason) });
    },
    metrics: ["seclake_objects_total{result=skipped}", "seclake_objects_skipped_total{reason}"],
  },
  object_skipped_after_open: {
    level: "info",
    message: "Skipping {key}: {reason} ({error})",
    count: (m, f) => {
      m.objects.inc({ result: "skipped" });
      m.objectsSkipped.inc({ reason: s(f.reason) });
      m.objectsInFlight.inc({}, -1);
    },
    metrics: [
      "seclake_objects_total{result=skipped}",
      "seclake_objects_skipped_total{reason}",
      "seclake_objects_in_flight",
    ],
  },
  object_started: {
    level: "none",
    message: "",
    count: (m) => m.objectsInFlight.inc({}, 1),
    metrics: ["seclake_objects_in_flight"],
  },
  object_delivered: {
    level: "debug",
    message: "Delivered {events} events of s3://{bucket}/{key} in {seconds} seconds",
    count: (m, f) => {
      m.objects.inc({ result: "delivered" });
      m.objectsInFlight.inc({}, -1);
      m.objectSeconds.observe(Number(f.seconds ?? 0));
    },
    metrics: [
      "seclake_objects_total{result=delivered}",
      "seclake_objects_in_flight",
      "seclake_object_processing_seconds",
    ],
  },
  object_duplicate: {
    level: "info",
    message: "s3://{bucket}/{key} was already delivered; {events} duplicated events filtered out",
    count: (m, f) => {
      m.objects.inc({ result: "duplicate" });
      m.objectsInFlight.inc({}, -1);
      m.duplicatesFiltered.inc({}, n(f.events));
    },
    metrics: [
      "seclake_objects_total{result=duplicate}",
      "seclake_duplicated_events_filtered_total",
    ],
  },
  object_failed: {
    level: "error",
    message: "{error}",
    count: (m, f) => {
      m.objects.inc({ result: "failed" });
      m.objectsInFlight.inc({}, -1);
      m.errors.inc({ id: s(f.error_id) });
    },
    metrics: ["seclake_objects_total{result=failed}", "seclake_errors_total{id}"],
  },
  events_received: {
    level: "none",
    message: "",
    count: (m, f) => m.eventsReceived.inc({}, n(f.count)),
    metrics: ["seclake_events_received_total"],
  },
  events_filtered: {
    level: "none", // the pull's statistics line counts them
    message: "",
    count: (m, f) => m.eventsFiltered.inc({ input: s(f.input) }, n(f.count)),
    metrics: ["seclake_events_filtered_total{input}"],
  },
  events_truncated: {
    level: "none", // the object's warning names them
    message: "",
    count: (m, f) => m.eventsTruncated.inc({}, n(f.count)),
    metrics: ["seclake_events_truncated_total"],
  },
  batch_confirmed: {
    level: "debug",
    message: "Output {output} confirmed {events} events ({bytes} bytes)",
    count: (m, f) => {
      m.eventsSent.inc({ output: s(f.output) }, n(f.events));
      m.bytesSent.inc({ output: s(f.output) }, n(f.bytes));
    },
    metrics: ["seclake_events_sent_total{output}", "seclake_bytes_sent_total{output}"],
  },
  visibility_extended: {
    level: "debug",
    message: "Visibility of message {message_id} extended by {seconds} seconds",
    count: (m) => m.visibilityExtensions.inc(),
    metrics: ["seclake_visibility_extensions_total"],
  },
  retry: {
    level: "warning",
    message: "{error}; retrying ({stage})",
    count: (m, f) => m.retries.inc({ stage: s(f.stage) }),
    metrics: ["seclake_retries_total{stage}"],
  },
  error: {
    level: "error",
    message: "{error}",
    count: (m, f) => m.errors.inc({ id: s(f.error_id) }),
    metrics: ["seclake_errors_total{id}"],
  },
} as const satisfies Record<string, EventSpec>;

/** Name of a telemetry event. */
export type EventName = keyof typeof EVENTS;
