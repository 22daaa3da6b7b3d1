/**
 * The receive loop: long-polls the queue for as many messages as there are free work slots,
 * processes each message's objects, keeps messages hidden while they are worked on (heartbeat
 * at half the visibility timeout), and lets the acker decide each message's fate. On stop it
 * receives no more, gives work in flight `shutdownTimeoutMs` to finish, then stops it (what was
 * written is still confirmed and checkpointed) and releases unfinished messages at once.
 * @module
 */
import { sleep } from "../async.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import { parseNotification } from "../source/notification.ts";
import type { ParseOptions } from "../source/notification.ts";
import type { LineFormatter } from "../transform/line.ts";
import { Telemetry } from "../telemetry/events.ts";
import { PullStats } from "../telemetry/stats.ts";
import { decide, failures } from "./acker.ts";
import type { MessageOutcome } from "./acker.ts";
import { processObject } from "./object_processor.ts";
import { objectHooks, reportOutcome } from "./outcome.ts";
import type { InputObjectOptions, ObjectOutcome } from "./object_processor.ts";
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
    /** Events of the message's objects delivered before the failure (not taken back). */
    delivered_events?: number;
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
  /** Why an announced object is not read (include/exclude sources, accounts, regions). */
  select?: (key: string) => string | undefined;
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
  /** Handed to every object's processing: obfuscation and the size limits of the input. */
  objectOptions?: InputObjectOptions;
  /** How notifications are parsed: the buckets they may name. */
  notificationOptions?: ParseOptions;
}

/** What a run did. */
export interface RunSummary {
  /**
   * With `once`: every message received was finally deleted (none is left failed or was
   * quarantined). Without it the loop ran until its signal and failed messages are the queue's
   * to bring back, so this is false only when the loop itself had to give up.
   */
  readonly allSucceeded: boolean;
}

/** Runs until `signal` aborts or, with `once`, until the queue is drained. */
export async function runCollector(o: CollectorOptions): Promise<RunSummary> {
  const tele = o.telemetry ?? new Telemetry();
  const inFlight = new Set<Promise<void>>();
  const work = new AbortController(); // stops in-flight work after the shutdown timeout
  /** Messages whose last outcome in this run was a failure. */
  const failed = new Set<string>();
  let gaveUp = false;

  /**
   * Messages in progress, by id, with their latest delivery: a message whose visibility ran out
   * anyway (SQS unreachable for a while) and that comes back while it is still worked on is not
   * processed twice; its newer receipt handle is used from then on.
   */
  const active = new Map<string, { message: QueueMessage }>();

  const handle = async (first: QueueMessage, formatter: LineFormatter, pull: PullStats) => {
    const current = { message: first };
    active.set(first.id, current);
    const heartbeat = startHeartbeat(o.queue, current, o.visibilitySeconds, tele, pull);
    let released = false;
    try {
      const outcome = await processMessage(first, o, formatter, tele, pull, work.signal);
      const message = current.message;
      const action = decide(outcome, {
        receiveCount: message.receiveCount,
        maxReceiveCount: o.maxReceiveCount ?? 5,
        redrive: o.redrive ?? false,
        quarantine: o.quarantine !== undefined,
        shuttingDown: work.signal.aborted || o.signal?.aborted === true,
      });
      // An extension still in flight must not land after the delete or the release.
      await heartbeat.stop();
      const errors = failures(outcome);
      // Only stopped by the shutdown: checkpointed, released below, not a failure.
      const stopped = errors.length > 0 &&
        outcome.objects.every((x) => x.ok || x.stopped) && !outcome.invalid;
      if (action === "delete") {
        pull.requests++;
        await o.queue.delete(message);
        failed.delete(message.id);
        tele.emit("message_deleted", { message_id: message.id });
        return;
      }
      if (!stopped) {
        failed.add(message.id);
        pull.failed++;
      }
      if (action === "quarantine") {
        await o.quarantine!.quarantine({
          time: new Date().toISOString(),
          message_id: message.id,
          receive_count: message.receiveCount,
          reason: errors.map((e) => e.message).join("; "),
          error_id: errors[0]?.id,
          delivered_events: outcome.objects.reduce((n, x) => n + x.events, 0),
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
      // A message only stopped (shutdown, closed console) is no failure: released, not "left".
      if (!stopped) {
        tele.emit("message_left", {
          message_id: message.id,
          receive_count: message.receiveCount,
          reason: errors.map((e) => e.message).join("; "),
        });
      }
      if (action === "release") {
        // Shutting down: let another instance take it now.
        pull.requests++;
        await o.queue.changeVisibility(message, 0);
        tele.emit("message_released", { message_id: message.id });
        released = true;
      }
    } catch (e) {
      failed.add(first.id);
      pull.failed++;
      tele.emit("error", { error: errorMessage(e), error_id: errorId(e), message_id: first.id });
    } finally {
      await heartbeat.stop();
      active.delete(first.id);
      if (!released && (work.signal.aborted)) {
        await o.queue.changeVisibility(current.message, 0).then(
          () => tele.emit("message_released", { message_id: first.id }),
          () => {},
        );
      }
    }
  };

  // Statistics lines in the order their cycles started, each with its own end time, though
  // cycles overlap and a later one may end first.
  let statsPrinted: Promise<void> = Promise.resolve();
  const printStats = (pull: PullStats, done: Promise<unknown>) => {
    const ended = done.then(() => Date.now(), () => Date.now());
    statsPrinted = Promise.all([statsPrinted, ended]).then(([, end]) =>
      tele.emit("pull_statistics", { line: pull.line(end) })
    );
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
        gaveUp = true;
        break;
      }
      await sleep(jitter(Math.min(30_000, 500 * 2 ** receiveErrors)), o.signal);
      continue;
    }
    tele.emit("messages_received", { count: messages.length });
    const sent = messages.map((m) => m.sentTimestamp).filter((t): t is number => t !== undefined);
    if (sent.length > 0) {
      tele.metrics.oldestMessageAge.set({}, Math.max(0, (Date.now() - Math.min(...sent)) / 1000));
    }
    const pull = new PullStats(pullStart);
    pull.requests = 1;
    pull.messages = messages.length;
    if (messages.length === 0) {
      printStats(pull, Promise.resolve());
      if (o.once && inFlight.size === 0) break;
      if (o.once) await Promise.race(inFlight);
      continue;
    }
    tele.emit("pull_started", { id: pull.pullingId, count: messages.length });
    const formatter = o.formatterFor(pullStart);
    const handled = messages.flatMap((m) => {
      const running = active.get(m.id);
      if (running) {
        running.message = m;
        tele.emit("message_back_in_progress", { message_id: m.id, receive_count: m.receiveCount });
        return [];
      }
      const p: Promise<void> = handle(m, formatter, pull).finally(() => inFlight.delete(p));
      inFlight.add(p);
      return [p];
    });
    printStats(pull, Promise.all(handled));
  }
  if (inFlight.size > 0) {
    const timeoutMs = o.shutdownTimeoutMs ?? 25_000;
    tele.emit("stopping", { seconds: timeoutMs / 1000, count: inFlight.size });
    // Reading stops early enough to confirm what was sent and save the checkpoints in time.
    const confirmMs = Math.min(5_000, timeoutMs / 2);
    const stopReading = setTimeout(() => {
      tele.emit("stopping_reading");
      work.abort();
    }, timeoutMs - confirmMs);
    const stopAll = setTimeout(() => {
      tele.emit("shutdown_timeout");
      work.abort();
      // Unconfirmed batches fail now; their rows stay unconfirmed and are sent again later.
      for (const out of o.outputs) out.abort();
    }, timeoutMs);
    await Promise.all(inFlight);
    clearTimeout(stopReading);
    clearTimeout(stopAll);
  }
  await statsPrinted;
  return { allSucceeded: !gaveUp && (!o.once || failed.size === 0) };
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
    notification = parseNotification(message.body, o.notificationOptions);
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
  let skipped = notification.skipped.length;
  for (const ref of notification.objects) {
    const filtered = o.select?.(ref.key);
    if (filtered) {
      skipped++;
      tele.emit("object_skipped", { key: ref.key, reason: filtered, bucket: ref.bucket });
      continue;
    }
    tele.emit("object_started", { bucket: ref.bucket, key: ref.key });
    const outcome = await processObject(ref, {
      ...o.objectOptions,
      reader: o.reader,
      outputs: o.outputs,
      formatter,
      state: o.state,
      signal,
      ...objectHooks(tele, (n) => pull.eventsReceived += n),
    });
    objects.push(outcome);
    pull.requests += outcome.requests;
    reportOutcome(tele, outcome);
    if (outcome.ok && outcome.duplicate) pull.duplicatesFiltered += outcome.events;
    else {
      if (!(!outcome.ok && outcome.stopped)) pull.objects++;
      pull.eventsSent += outcome.events;
    }
  }
  return { test: false, objects, skipped };
}

function errorId(e: unknown): number | undefined {
  return e instanceof CollectorError ? e.id : undefined;
}

function startHeartbeat(
  queue: MessageQueue,
  current: { readonly message: QueueMessage },
  visibilitySeconds: number,
  tele: Telemetry,
  pull: PullStats,
): { stop(): Promise<void> } {
  let pending: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    pull.requests++;
    const message = current.message;
    pending = queue.changeVisibility(message, visibilitySeconds).then(
      () =>
        tele.emit("visibility_extended", { message_id: message.id, seconds: visibilitySeconds }),
      (e) => tele.emit("retry", { error: errorMessage(e), error_id: errorId(e), stage: "sqs" }),
    );
  }, (visibilitySeconds * 1000) / 2);
  return {
    stop: () => {
      clearInterval(timer);
      return pending;
    },
  };
}

function aborted(signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** `ms` with full jitter on its upper half, so instances that failed together retry apart. */
function jitter(ms: number): number {
  return ms / 2 + Math.random() * ms / 2;
}
