/**
 * The receive loop: long-polls the queue for as many messages as there are free work slots,
 * processes each message's objects, keeps messages hidden while they are worked on, and lets
 * the acker decide each message's fate.
 * @module
 */
import { CollectorError, errorMessage } from "../errors.ts";
import { parseNotification } from "../source/notification.ts";
import type { LineFormatter } from "../transform/line.ts";
import { Counters } from "../telemetry/counters.ts";
import { logger } from "../telemetry/log.ts";
import { decide } from "./acker.ts";
import type { MessageOutcome } from "./acker.ts";
import { processObject } from "./object_processor.ts";
import type { ObjectOutcome } from "./object_processor.ts";
import type { EventOutput, MessageQueue, ObjectReader, QueueMessage } from "./ports.ts";

/** Options for {@link runCollector}. */
export interface CollectorOptions {
  queue: MessageQueue;
  reader: ObjectReader;
  outputs: readonly EventOutput[];
  /** A formatter for a pull, given the pull's start (epoch ms). */
  formatterFor: (pullStartMs: number) => LineFormatter;
  /** Messages worked on at once. */
  maxConcurrent: number;
  /** Most messages per receive (1–10). */
  maxMessages: number;
  /** Long-poll wait in seconds. */
  waitSeconds: number;
  /** Visibility timeout; messages in progress are extended at half of it. */
  visibilitySeconds: number;
  /** Stop once a full long poll returns nothing and all work is done. */
  once?: boolean;
  signal?: AbortSignal;
  counters?: Counters;
}

/** What a run did. */
export interface RunSummary {
  readonly counters: Counters;
  /** Every message that ended was deleted (nothing failed). */
  readonly allSucceeded: boolean;
}

/** Runs until `signal` aborts or, with `once`, until the queue is drained. */
export async function runCollector(o: CollectorOptions): Promise<RunSummary> {
  const log = logger("pipeline");
  const counters = o.counters ?? new Counters();
  const inFlight = new Set<Promise<void>>();
  let failures = 0;

  const work = async (message: QueueMessage, formatter: LineFormatter) => {
    const heartbeat = startHeartbeat(o.queue, message, o.visibilitySeconds, counters);
    try {
      const outcome = await processMessage(message, o, formatter, counters);
      const action = decide(outcome);
      if (action === "delete") {
        await o.queue.delete(message);
        counters.messagesDeleted++;
      } else {
        counters.messagesLeft++;
        failures++;
      }
    } catch (e) {
      failures++;
      log.error("{error}", { error: errorMessage(e), message_id: message.id });
    } finally {
      heartbeat.stop();
    }
  };

  while (!o.signal?.aborted) {
    while (inFlight.size >= o.maxConcurrent) await Promise.race(inFlight);
    const free = o.maxConcurrent - inFlight.size;
    const pullStart = Date.now();
    let messages: QueueMessage[];
    try {
      messages = await o.queue.receive({
        max: Math.min(free, o.maxMessages),
        waitSeconds: o.waitSeconds,
        visibilitySeconds: o.visibilitySeconds,
        signal: o.signal,
      });
    } catch (e) {
      log.error("{error}", { error: errorMessage(e) });
      failures++;
      if (o.once) break;
      await sleep(5000, o.signal);
      continue;
    }
    counters.messagesReceived += messages.length;
    if (messages.length === 0) {
      if (o.once && inFlight.size === 0) break;
      if (o.once) await Promise.race(inFlight);
      continue;
    }
    const formatter = o.formatterFor(pullStart);
    for (const m of messages) {
      const p: Promise<void> = work(m, formatter).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  }
  await Promise.all(inFlight);
  return { counters, allSucceeded: failures === 0 };
}

async function processMessage(
  message: QueueMessage,
  o: CollectorOptions,
  formatter: LineFormatter,
  counters: Counters,
): Promise<MessageOutcome> {
  const log = logger("pipeline");
  let notification;
  try {
    notification = parseNotification(message.body);
  } catch (e) {
    const error = e instanceof CollectorError
      ? e
      : new CollectorError("NOTIFICATION_INVALID", errorMessage(e));
    counters.invalidMessages++;
    log.error("{error}", { error: error.message, message_id: message.id, ...error.context });
    return { test: false, invalid: error, objects: [], skipped: 0 };
  }
  if (notification.kind === "test") {
    counters.testEvents++;
    log.info("S3 test event received; deleting it", { message_id: message.id });
    return { test: true, objects: [], skipped: 0 };
  }
  for (const s of notification.skipped) {
    counters.objectsSkipped++;
    log.info("Skipping {key}: {reason}", {
      key: s.key ?? "(record)",
      reason: s.reason,
      bucket: s.bucket,
    });
  }
  const objects: ObjectOutcome[] = [];
  for (const ref of notification.objects) {
    const outcome = await processObject(ref, {
      reader: o.reader,
      outputs: o.outputs,
      formatter,
      signal: o.signal,
      onEvents: (n) => counters.eventsReceived += n,
    });
    objects.push(outcome);
    if (outcome.ok) {
      counters.objectsRead++;
      counters.eventsSent += outcome.events;
      log.debug("Delivered {events} events of s3://{bucket}/{key}", {
        events: outcome.events,
        bucket: ref.bucket,
        key: ref.key,
      });
    } else {
      counters.objectsFailed++;
      log.error("{error}", { error: outcome.error.message, bucket: ref.bucket, key: ref.key });
    }
  }
  return { test: false, objects, skipped: notification.skipped.length };
}

function startHeartbeat(
  queue: MessageQueue,
  message: QueueMessage,
  visibilitySeconds: number,
  counters: Counters,
): { stop(): void } {
  const timer = setInterval(() => {
    queue.changeVisibility(message, visibilitySeconds).then(
      () => counters.visibilityExtensions++,
      (e) => logger("pipeline").warn("{error}", { error: errorMessage(e), message_id: message.id }),
    );
  }, (visibilitySeconds * 1000) / 2);
  return { stop: () => clearInterval(timer) };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
