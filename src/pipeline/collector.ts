/**
 * The receive loop: long-polls the queue for as many messages as there are free work slots,
 * processes each message's objects, keeps messages hidden while they are worked on (heartbeat
 * at half the visibility timeout), and lets the acker decide each message's fate. On stop it
 * receives no more, gives work in flight `shutdownTimeoutMs` to finish, then stops it (what was
 * written is still confirmed and checkpointed) and releases unfinished messages at once.
 * @module
 */
import { CollectorError, errorMessage } from "../errors.ts";
import { parseNotification } from "../source/notification.ts";
import type { LineFormatter } from "../transform/line.ts";
import { Counters } from "../telemetry/counters.ts";
import { logger } from "../telemetry/log.ts";
import { decide, failures } from "./acker.ts";
import type { MessageOutcome } from "./acker.ts";
import { processObject } from "./object_processor.ts";
import type { ObjectOutcome } from "./object_processor.ts";
import type {
  EventOutput,
  MessageQueue,
  ObjectReader,
  ObjectState,
  QueueMessage,
} from "./ports.ts";

/** Where poison messages go. */
export interface Quarantine {
  quarantine(record: {
    time: string;
    message_id: string;
    receive_count: number;
    reason: string;
    error_id?: number;
    body: string;
  }): Promise<void>;
}

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
  /** Completed objects and checkpoints. */
  state?: ObjectState;
  /** Where poison messages are set aside; without it they are only left on the queue. */
  quarantine?: Quarantine;
  /** Receives after which a permanently failing message is quarantined. Default 5. */
  maxReceiveCount?: number;
  /** The queue has a redrive policy: leave poison messages to it. Default false. */
  redrive?: boolean;
  /** Stop once a full long poll returns nothing and all work is done. */
  once?: boolean;
  /** Stops receiving; then in-flight work gets `shutdownTimeoutMs` to finish. */
  signal?: AbortSignal;
  /** Default 25,000 ms. */
  shutdownTimeoutMs?: number;
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
  const work = new AbortController(); // stops in-flight work after the shutdown timeout
  let failuresSeen = 0;

  const handle = async (message: QueueMessage, formatter: LineFormatter) => {
    const heartbeat = startHeartbeat(o.queue, message, o.visibilitySeconds, counters);
    let released = false;
    try {
      const outcome = await processMessage(message, o, formatter, counters, work.signal);
      const action = decide(outcome, {
        receiveCount: message.receiveCount,
        maxReceiveCount: o.maxReceiveCount ?? 5,
        redrive: o.redrive ?? false,
        quarantine: o.quarantine !== undefined,
      });
      heartbeat.stop();
      if (action === "delete") {
        await o.queue.delete(message);
        counters.messagesDeleted++;
        return;
      }
      failuresSeen++;
      if (action === "quarantine") {
        const errors = failures(outcome);
        await o.quarantine!.quarantine({
          time: new Date().toISOString(),
          message_id: message.id,
          receive_count: message.receiveCount,
          reason: errors.map((e) => e.message).join("; "),
          error_id: errors[0]?.id,
          body: message.body,
        });
        await o.queue.delete(message);
        counters.messagesQuarantined++;
        log.error("Message {message_id} quarantined after {count} receives: {reason}", {
          message_id: message.id,
          count: message.receiveCount,
          reason: errors.map((e) => e.message).join("; "),
        });
        return;
      }
      counters.messagesLeft++;
      if (work.signal.aborted || o.signal?.aborted) {
        // Shutting down: let another instance take it now.
        await o.queue.changeVisibility(message, 0);
        counters.messagesReleased++;
        released = true;
      }
    } catch (e) {
      failuresSeen++;
      log.error("{error}", { error: errorMessage(e), message_id: message.id });
    } finally {
      heartbeat.stop();
      if (!released && (work.signal.aborted)) {
        await o.queue.changeVisibility(message, 0).then(
          () => counters.messagesReleased++,
          () => {},
        );
      }
    }
  };

  let receiveErrors = 0;
  while (!o.signal?.aborted) {
    while (inFlight.size >= o.maxConcurrent && !o.signal?.aborted) {
      await Promise.race([...inFlight, aborted(o.signal)]);
    }
    if (o.signal?.aborted) break;
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
      receiveErrors = 0;
    } catch (e) {
      receiveErrors++;
      counters.retries++;
      log.error("{error}", { error: errorMessage(e) });
      if (o.once && receiveErrors >= 5) {
        failuresSeen++;
        break;
      }
      await sleep(Math.min(30_000, 500 * 2 ** receiveErrors), o.signal);
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
      const p: Promise<void> = handle(m, formatter).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
  }
  if (inFlight.size > 0) {
    const timeoutMs = o.shutdownTimeoutMs ?? 25_000;
    log.info("Stopping: waiting up to {seconds} seconds for {count} messages in progress", {
      seconds: timeoutMs / 1000,
      count: inFlight.size,
    });
    const timer = setTimeout(() => {
      log.warn("Shutdown timeout reached: stopping work in progress");
      work.abort();
      // Unconfirmed batches fail now; their rows stay unconfirmed and are sent again later.
      for (const out of o.outputs) out.abort();
    }, timeoutMs);
    await Promise.all(inFlight);
    clearTimeout(timer);
  }
  return { counters, allSucceeded: failuresSeen === 0 };
}

async function processMessage(
  message: QueueMessage,
  o: CollectorOptions,
  formatter: LineFormatter,
  counters: Counters,
  signal: AbortSignal,
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
      state: o.state,
      signal,
      onEvents: (n) => counters.eventsReceived += n,
      onRetry: () => counters.retries++,
    });
    objects.push(outcome);
    if (outcome.ok && outcome.duplicate) {
      counters.objectsDuplicate++;
      counters.duplicatedEventsFiltered += outcome.events;
      log.info(
        "s3://{bucket}/{key} was already delivered; {events} duplicated events filtered out",
        {
          bucket: ref.bucket,
          key: ref.key,
          events: outcome.events,
        },
      );
    } else if (outcome.ok) {
      counters.objectsRead++;
      counters.eventsSent += outcome.events;
      log.debug("Delivered {events} events of s3://{bucket}/{key}", {
        events: outcome.events,
        bucket: ref.bucket,
        key: ref.key,
      });
    } else {
      counters.objectsFailed++;
      counters.eventsSent += outcome.events;
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

function aborted(signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
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
