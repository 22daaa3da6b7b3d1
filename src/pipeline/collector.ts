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
  return await new ReceiveLoop(o).run();
}

/** A heartbeat that keeps a message hidden (see {@link startHeartbeat}). */
type Heartbeat = { stop(): Promise<void> };

/** One run of {@link runCollector}: the messages in flight and what became of them. */
class ReceiveLoop {
  readonly #o: CollectorOptions;
  readonly #tele: Telemetry;
  readonly #inFlight = new Set<Promise<void>>();
  /** Stops in-flight work after the shutdown timeout. */
  readonly #work = new AbortController();
  /** Messages whose last outcome in this run was a failure. */
  readonly #failed = new Set<string>();
  #gaveUp = false;
  #receiveErrors = 0;
  /**
   * Messages in progress, by id, with their latest delivery: a message whose visibility ran out
   * anyway (SQS unreachable for a while) and that comes back while it is still worked on is not
   * processed twice; its newer receipt handle is used from then on.
   */
  readonly #active = new Map<string, { message: QueueMessage }>();
  /** The statistics lines logged so far (see {@link ReceiveLoop.#printStats}). */
  #statsPrinted: Promise<void> = Promise.resolve();

  constructor(o: CollectorOptions) {
    this.#o = o;
    this.#tele = o.telemetry ?? new Telemetry();
  }

  /** The receive loop, then the shutdown of the work in flight. */
  async run(): Promise<RunSummary> {
    const o = this.#o;
    const inFlight = this.#inFlight;
    while (!o.signal?.aborted) {
      o.onLoop?.();
      while (inFlight.size >= o.maxConcurrent && !o.signal?.aborted) {
        await Promise.race([...inFlight, aborted(o.signal)]);
      }
      if (o.signal?.aborted) break;
      const free = o.maxConcurrent - inFlight.size;
      const pullStart = Date.now();
      const messages = await this.#receive(free);
      if (messages === "give up") {
        this.#gaveUp = true;
        break;
      }
      if (messages === undefined) continue;
      if (!await this.#dispatch(messages, pullStart)) break;
    }
    await this.#drain();
    await this.#statsPrinted;
    return { allSucceeded: !this.#gaveUp && (!o.once || this.#failed.size === 0) };
  }

  /**
   * Receives up to `free` messages; undefined after a failed receive (and the wait before the
   * next), "give up" after the fifth failure in a row with `once`.
   */
  async #receive(free: number): Promise<QueueMessage[] | undefined | "give up"> {
    const o = this.#o;
    try {
      const messages = await o.queue.receive({
        max: Math.min(free, o.maxMessages),
        waitSeconds: o.waitSeconds,
        visibilitySeconds: o.visibilitySeconds,
        signal: o.signal,
      });
      this.#receiveErrors = 0;
      o.onReceive?.(true);
      return messages;
    } catch (e) {
      this.#receiveErrors++;
      o.onReceive?.(false);
      this.#tele.emit("retry", { error: errorMessage(e), error_id: errorId(e), stage: "sqs" });
      if (o.once && this.#receiveErrors >= 5) return "give up";
      await sleep(jitter(Math.min(30_000, 500 * 2 ** this.#receiveErrors)), o.signal);
      return undefined;
    }
  }

  /**
   * Starts the work of the messages of one pull; false when, with `once`, the queue is drained
   * and nothing is in flight.
   */
  async #dispatch(messages: QueueMessage[], pullStart: number): Promise<boolean> {
    const o = this.#o;
    const tele = this.#tele;
    const inFlight = this.#inFlight;
    tele.emit("messages_received", { count: messages.length });
    const sent = messages.map((m) => m.sentTimestamp).filter((t): t is number => t !== undefined);
    if (sent.length > 0) {
      tele.metrics.oldestMessageAge.set({}, Math.max(0, (Date.now() - Math.min(...sent)) / 1000));
    }
    const pull = new PullStats(pullStart);
    pull.requests = 1;
    pull.messages = messages.length;
    if (messages.length === 0) {
      this.#printStats(pull, Promise.resolve());
      if (o.once && inFlight.size === 0) return false;
      if (o.once) await Promise.race(inFlight);
      return true;
    }
    tele.emit("pull_started", { id: pull.pullingId, count: messages.length });
    const formatter = o.formatterFor(pullStart);
    const handled = messages.flatMap((m) => {
      const running = this.#active.get(m.id);
      if (running) {
        running.message = m;
        tele.emit("message_back_in_progress", { message_id: m.id, receive_count: m.receiveCount });
        return [];
      }
      const p: Promise<void> = this.#handle(m, formatter, pull).finally(() => inFlight.delete(p));
      inFlight.add(p);
      return [p];
    });
    this.#printStats(pull, Promise.all(handled));
    return true;
  }

  /**
   * Logs the statistics line of `pull` once `done`: lines in the order their cycles started, each
   * with its own end time, though cycles overlap and a later one may end first.
   */
  #printStats(pull: PullStats, done: Promise<unknown>): void {
    const ended = done.then(() => Date.now(), () => Date.now());
    this.#statsPrinted = Promise.all([this.#statsPrinted, ended]).then(([, end]) =>
      this.#tele.emit("pull_statistics", { line: pull.line(end) })
    );
  }

  /** Works on one message under its heartbeat, then carries out the acker's decision. */
  async #handle(first: QueueMessage, formatter: LineFormatter, pull: PullStats): Promise<void> {
    const o = this.#o;
    const tele = this.#tele;
    const work = this.#work;
    const current = { message: first };
    this.#active.set(first.id, current);
    const heartbeat = startHeartbeat(o.queue, current, o.visibilitySeconds, tele, pull);
    let released = false;
    try {
      const outcome = await processMessage(first, o, formatter, tele, pull, work.signal);
      released = await this.#settle(outcome, current.message, heartbeat, pull);
    } catch (e) {
      this.#failed.add(first.id);
      pull.failed++;
      tele.emit("error", { error: errorMessage(e), error_id: errorId(e), message_id: first.id });
    } finally {
      await heartbeat.stop();
      this.#active.delete(first.id);
      if (!released && (work.signal.aborted)) {
        await o.queue.changeVisibility(current.message, 0).then(
          () => tele.emit("message_released", { message_id: first.id }),
          () => {},
        );
      }
    }
  }

  /**
   * Deletes, quarantines, leaves or releases `message` as the acker decides; whether it was
   * released.
   */
  async #settle(
    outcome: MessageOutcome,
    message: QueueMessage,
    heartbeat: Heartbeat,
    pull: PullStats,
  ): Promise<boolean> {
    const o = this.#o;
    const tele = this.#tele;
    const action = decide(outcome, {
      receiveCount: message.receiveCount,
      maxReceiveCount: o.maxReceiveCount ?? 5,
      redrive: o.redrive ?? false,
      quarantine: o.quarantine !== undefined,
      shuttingDown: this.#work.signal.aborted || o.signal?.aborted === true,
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
      this.#failed.delete(message.id);
      tele.emit("message_deleted", { message_id: message.id });
      return false;
    }
    if (!stopped) {
      this.#failed.add(message.id);
      pull.failed++;
    }
    if (action === "quarantine") {
      await this.#quarantine(outcome, message, errors, pull);
      return false;
    }
    // A message only stopped (shutdown, closed console) is no failure: released, not "left".
    if (!stopped) {
      tele.emit("message_left", {
        message_id: message.id,
        receive_count: message.receiveCount,
        reason: errors.map((e) => e.message).join("; "),
      });
    }
    if (action !== "release") return false;
    // Shutting down: let another instance take it now.
    pull.requests++;
    await o.queue.changeVisibility(message, 0);
    tele.emit("message_released", { message_id: message.id });
    return true;
  }

  /** Sets a poison message aside, then deletes it from the queue. */
  async #quarantine(
    outcome: MessageOutcome,
    message: QueueMessage,
    errors: readonly CollectorError[],
    pull: PullStats,
  ): Promise<void> {
    const o = this.#o;
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
    this.#tele.emit("message_quarantined", {
      message_id: message.id,
      receive_count: message.receiveCount,
      reason: errors.map((e) => e.message).join("; "),
      error_id: errors[0]?.id,
    });
  }

  /** Gives the work in flight the shutdown timeout, then stops it. */
  async #drain(): Promise<void> {
    const o = this.#o;
    const tele = this.#tele;
    const work = this.#work;
    const inFlight = this.#inFlight;
    if (inFlight.size === 0) return;
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
  pull.objectsSkipped += skipped;
  for (const ref of notification.objects) {
    const filtered = o.select?.(ref.key);
    if (filtered) {
      skipped++;
      pull.objectsSkipped++;
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
      ...objectHooks(
        tele,
        (n) => pull.eventsReceived += n,
        o.objectOptions?.input,
        (n) => pull.eventsFiltered += n,
      ),
    });
    objects.push(outcome);
    pull.requests += outcome.requests;
    reportOutcome(tele, outcome);
    if (outcome.ok && outcome.skipped) {
      skipped++;
      pull.objectsSkipped++;
    } else if (outcome.ok && outcome.duplicate) pull.duplicatesFiltered += outcome.events;
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
): Heartbeat {
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
