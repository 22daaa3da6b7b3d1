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
import { Telemetry } from "../telemetry/events.ts";
import { logger } from "../telemetry/log.ts";
import { PullStats } from "../telemetry/stats.ts";
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
  /** Where events and metrics go. */
  telemetry?: Telemetry;
  /** Called on every turn of the receive loop (liveness). */
  onLoop?: () => void;
  /** Called after each receive: whether the queue answered. */
  onReceive?: (ok: boolean) => void;
}

/** What a run did. */
export interface RunSummary {
  /** Every message that ended was deleted (nothing failed). */
  readonly allSucceeded: boolean;
}

/** Runs until `signal` aborts or, with `once`, until the queue is drained. */
export async function runCollector(o: CollectorOptions): Promise<RunSummary> {
  const log = logger("pipeline");
  const tele = o.telemetry ?? new Telemetry();
  const inFlight = new Set<Promise<void>>();
  const work = new AbortController(); // stops in-flight work after the shutdown timeout
  let failuresSeen = 0;

  const handle = async (message: QueueMessage, formatter: LineFormatter, pull: PullStats) => {
    const heartbeat = startHeartbeat(o.queue, message, o.visibilitySeconds, tele, pull);
    let released = false;
    try {
      const outcome = await processMessage(message, o, formatter, tele, pull, work.signal);
      const action = decide(outcome, {
        receiveCount: message.receiveCount,
        maxReceiveCount: o.maxReceiveCount ?? 5,
        redrive: o.redrive ?? false,
        quarantine: o.quarantine !== undefined,
      });
      heartbeat.stop();
      if (action === "delete") {
        pull.requests++;
        await o.queue.delete(message);
        tele.emit("message_deleted", { message_id: message.id });
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
        pull.requests++;
        await o.queue.delete(message);
        tele.emit("message_quarantined", {
          message_id: message.id,
          receive_count: message.receiveCount,
          reason: errors.map((e) => e.message).join("; "),
          error_id: errors[0]?.id,
        });
        return;
      }
      tele.emit("message_left", { message_id: message.id });
      if (work.signal.aborted || o.signal?.aborted) {
        // Shutting down: let another instance take it now.
        pull.requests++;
        await o.queue.changeVisibility(message, 0);
        tele.emit("message_released", { message_id: message.id });
        released = true;
      }
    } catch (e) {
      failuresSeen++;
      tele.emit("error", { error: errorMessage(e), error_id: errorId(e), message_id: message.id });
    } finally {
      heartbeat.stop();
      if (!released && (work.signal.aborted)) {
        await o.queue.changeVisibility(message, 0).then(
          () => tele.emit("message_released", { message_id: message.id }),
          () => {},
        );
      }
    }
  };

  let receiveErrors = 0;
  while (!o.signal?.aborted) {
    o.onLoop?.();
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
      o.onReceive?.(true);
    } catch (e) {
      receiveErrors++;
      o.onReceive?.(false);
      tele.emit("retry", { error: errorMessage(e), error_id: errorId(e), stage: "sqs" });
      if (o.once && receiveErrors >= 5) {
        failuresSeen++;
        break;
      }
      await sleep(Math.min(30_000, 500 * 2 ** receiveErrors), o.signal);
      continue;
    }
    tele.emit("messages_received", { count: messages.length });
    const pull = new PullStats(pullStart);
    pull.requests = 1;
    pull.messages = messages.length;
    if (messages.length === 0) {
      log.info(pull.line(Date.now()));
      if (o.once && inFlight.size === 0) break;
      if (o.once) await Promise.race(inFlight);
      continue;
    }
    log.info("Pull started (@devo_pulling_id={id}): {count} messages", {
      id: pull.pullingId,
      count: messages.length,
    });
    const formatter = o.formatterFor(pullStart);
    const handled = messages.map((m) => {
      const p: Promise<void> = handle(m, formatter, pull).finally(() => inFlight.delete(p));
      inFlight.add(p);
      return p;
    });
    Promise.all(handled).then(() => log.info(pull.line(Date.now())));
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
  return { allSucceeded: failuresSeen === 0 };
}

async function processMessage(
  message: QueueMessage,
  o: CollectorOptions,
  formatter: LineFormatter,
  tele: Telemetry,
  pull: PullStats,
  signal: AbortSignal,
): Promise<MessageOutcome> {
  let notification;
  try {
    notification = parseNotification(message.body);
  } catch (e) {
    const error = e instanceof CollectorError
      ? e
      : new CollectorError("NOTIFICATION_INVALID", errorMessage(e));
    tele.emit("error", {
      error: error.message,
      error_id: error.id,
      message_id: message.id,
      ...error.context,
    });
    return { test: false, invalid: error, objects: [], skipped: 0 };
  }
  if (notification.kind === "test") {
    tele.emit("test_event", { message_id: message.id });
    return { test: true, objects: [], skipped: 0 };
  }
  for (const s of notification.skipped) {
    tele.emit("object_skipped", { key: s.key ?? "(record)", reason: s.reason, bucket: s.bucket });
  }
  const objects: ObjectOutcome[] = [];
  for (const ref of notification.objects) {
    tele.emit("object_started", { bucket: ref.bucket, key: ref.key });
    const outcome = await processObject(ref, {
      reader: o.reader,
      outputs: o.outputs,
      formatter,
      state: o.state,
      signal,
      onEvents: (n) => {
        pull.eventsReceived += n;
        tele.emit("events_received", { count: n });
      },
      onRetry: (error) =>
        tele.emit("retry", { error: error.message, error_id: error.id, stage: "s3" }),
    });
    objects.push(outcome);
    pull.requests += outcome.requests;
    const where = { bucket: ref.bucket, key: ref.key };
    if (outcome.ok && outcome.duplicate) {
      pull.duplicatesFiltered += outcome.events;
      tele.emit("object_duplicate", { ...where, events: outcome.events });
    } else if (outcome.ok) {
      pull.objects++;
      pull.eventsSent += outcome.events;
      tele.emit("object_delivered", {
        ...where,
        events: outcome.events,
        seconds: outcome.seconds.toFixed(3),
      });
    } else {
      pull.objects++;
      pull.eventsSent += outcome.events;
      tele.emit("object_failed", {
        ...where,
        error: outcome.error.message,
        error_id: outcome.error.id,
      });
    }
  }
  return { test: false, objects, skipped: notification.skipped.length };
}

function errorId(e: unknown): number | undefined {
  return e instanceof CollectorError ? e.id : undefined;
}

function startHeartbeat(
  queue: MessageQueue,
  message: QueueMessage,
  visibilitySeconds: number,
  tele: Telemetry,
  pull: PullStats,
): { stop(): void } {
  const timer = setInterval(() => {
    pull.requests++;
    queue.changeVisibility(message, visibilitySeconds).then(
      () =>
        tele.emit("visibility_extended", { message_id: message.id, seconds: visibilitySeconds }),
      (e) => tele.emit("retry", { error: errorMessage(e), error_id: errorId(e), stage: "sqs" }),
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
