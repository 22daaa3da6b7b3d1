/**
 * The metric families of one collector (Prometheus names, types and help), which the named
 * events of `events.ts` change.
 * @module
 */
import { Counter, Histogram, Registry } from "./metrics.ts";

/** Builds the metric families of one collector. */
export function families() {
  // Longer than 80 lines on purpose: a table, one entry per family, read top to bottom.
  const r = new Registry();
  return {
    registry: r,
    messagesReceived: r.add(
      new Counter("seclake_messages_received_total", "SQS messages received."),
    ),
    messagesDeleted: r.add(
      new Counter(
        "seclake_messages_deleted_total",
        "SQS messages deleted after every object they named was delivered or skipped.",
      ),
    ),
    messagesLeft: r.add(
      new Counter(
        "seclake_messages_left_total",
        "SQS messages left on the queue after a failure, to come back.",
      ),
    ),
    messagesReleased: r.add(
      new Counter(
        "seclake_messages_released_total",
        "SQS messages released at once (visibility 0) at shutdown.",
      ),
    ),
    messagesQuarantined: r.add(
      new Counter(
        "seclake_messages_quarantined_total",
        "Poison messages written to quarantine.jsonl and deleted.",
      ),
    ),
    testEvents: r.add(
      new Counter("seclake_test_events_total", "s3:TestEvent messages received and deleted."),
    ),
    objects: r.add(
      new Counter(
        "seclake_objects_total",
        "Objects named by notifications, by result: delivered, duplicate, skipped, failed.",
      ),
    ),
    objectsSkipped: r.add(
      new Counter(
        "seclake_objects_skipped_total",
        "Objects not read, by reason: metadata_folder, non_data_file, not_object_created, source_excluded, account_excluded, region_excluded, not_parquet (its last bytes are not PAR1), archived (Glacier or Deep Archive).",
      ),
    ),
    eventsReceived: r.add(
      new Counter("seclake_events_received_total", "Events decoded from Parquet objects."),
    ),
    eventsFiltered: r.add(
      new Counter(
        "seclake_events_filtered_total",
        "Events read and not sent because a drop_events condition matched them, by input.",
      ),
    ),
    eventsTruncated: r.add(
      new Counter(
        "seclake_events_truncated_total",
        "Events larger than max_event_bytes, sent truncated (marked @seclake_truncated).",
      ),
    ),
    eventsSent: r.add(
      new Counter("seclake_events_sent_total", "Events confirmed by the receiver, by output."),
    ),
    bytesSent: r.add(
      new Counter(
        "seclake_bytes_sent_total",
        "Bytes of syslog lines confirmed by the receiver, by output.",
      ),
    ),
    duplicatesFiltered: r.add(
      new Counter(
        "seclake_duplicated_events_filtered_total",
        "Events not sent again because their object had already been delivered.",
      ),
    ),
    visibilityExtensions: r.add(
      new Counter(
        "seclake_visibility_extensions_total",
        "Visibility timeout extensions of messages in progress.",
      ),
    ),
    retries: r.add(new Counter("seclake_retries_total", "Retries, by stage: sqs, s3, output.")),
    errors: r.add(new Counter("seclake_errors_total", "Errors, by catalogue id.")),
    objectsInFlight: r.add(
      new Counter("seclake_objects_in_flight", "Objects being read and delivered now.", "gauge"),
    ),
    bytesInFlight: r.add(
      new Counter(
        "seclake_bytes_in_flight",
        "Bytes written to outputs and not yet confirmed.",
        "gauge",
      ),
    ),
    queueMessages: r.add(
      new Counter(
        "seclake_queue_messages",
        "ApproximateNumberOfMessages of the queue, by state: visible, not_visible.",
        "gauge",
      ),
    ),
    oldestMessageAge: r.add(
      new Counter(
        "seclake_oldest_message_age_seconds",
        "Age of the oldest message received in the last pull.",
        "gauge",
      ),
    ),
    objectSeconds: r.add(
      new Histogram("seclake_object_processing_seconds", "Time to read and deliver one object.", [
        0.05,
        0.1,
        0.25,
        0.5,
        1,
        2.5,
        5,
        10,
        30,
        60,
        120,
        300,
      ]),
    ),
  };
}

/** The metric families; see {@link Telemetry.metrics}. */
export type Metrics = ReturnType<typeof families>;

/** Names of every metric family, for docs. */
export const METRICS = (() => {
  const m = families();
  return m.registry.families.map((f) => ({ name: f.name, type: f.type, help: f.help }));
})();
