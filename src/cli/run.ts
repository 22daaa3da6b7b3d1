/**
 * The `run` command: the composition root of the main job. Loads the configuration, builds the
 * outputs and each input's queue and reader, runs the collector loop, and shuts down cleanly.
 * @module
 */
import { createClients } from "../aws/clients.ts";
import type { AwsClients } from "../aws/clients.ts";
import { S3ObjectReader } from "../aws/s3.ts";
import { SqsQueue } from "../aws/sqs.ts";
import { configuredQueueUrl } from "../aws/queue_arn.ts";
import type { Config, InputConfig } from "../config/types.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import { guardLivePath, ObjectLocks } from "../pipeline/backfill_runner.ts";
import { runCollector } from "../pipeline/collector.ts";
import type { CollectorOptions } from "../pipeline/collector.ts";
import type { InputObjectOptions } from "../pipeline/object_processor.ts";
import type { LineFormatter } from "../transform/line.ts";
import { waitOutPropagation } from "../pipeline/startup.ts";
import type { EventOutput, MessageQueue, ObjectReader, ObjectState } from "../pipeline/ports.ts";
import type { DecodePool } from "../parquet/decode.ts";
import { DirectoryQueue, LOCAL_BUCKET, LocalObjectReader } from "../source/directory.ts";
import { Telemetry } from "../telemetry/events.ts";
import { startMetricsServer } from "../telemetry/server.ts";
import type { MetricsServer } from "../telemetry/server.ts";
import { memoryReport, SenderStats } from "../telemetry/stats.ts";
import { compileObfuscation } from "../transform/obfuscate.ts";
import { expiringCertificates } from "../output/cert_expiry.ts";
import { startupWarnings } from "../config/warnings.ts";
import { createOutput, devoTrustWidenings } from "./outputs.ts";
import { formatterFactory, inputObjectOptions, startDecodePool } from "./object_options.ts";
import { budgetedOutput, logMemoryPlan, memoryPlan, startMemoryGuard } from "./memory.ts";
import type { MemoryGuard } from "../pipeline/memory_guard.ts";
import type { MemoryPlan } from "./memory.ts";
import { selector } from "../source/partition.ts";
import { lakeSource, prePullWanted } from "./backfill.ts";
import { runPrePullBackfill } from "../pipeline/prepull.ts";
import { openInputState } from "../pipeline/input_state.ts";
import type { StateStore } from "../state/store.ts";
import { probeStateDir } from "../state/atomic.ts";
import { join } from "node:path";

/** Options for {@link runMain}. */
export interface RunOptions {
  /** Stop when the queue is drained. */
  once?: boolean;
  /** Stops receiving; work in flight is abandoned and its messages come back. */
  signal?: AbortSignal;
}

/** The result of a run: whether every message succeeded, and its telemetry. */
export interface RunResult {
  readonly ok: boolean;
  readonly telemetry: Telemetry;
}

/** What the pieces of one run share: its outputs, telemetry, health and what to release. */
interface RunContext {
  readonly config: Config;
  readonly options: RunOptions;
  readonly telemetry: Telemetry;
  readonly outputs: EventOutput[];
  readonly clients: AwsClients[];
  readonly stores: StateStore[];
  readonly timers: ReturnType<typeof setInterval>[];
  readonly health: { lastLoop: number; queueOk: boolean; started: boolean };
  decodePool?: DecodePool;
  memory?: MemoryPlan;
  memoryGuard?: MemoryGuard;
}

/** Runs every enabled input of `config` until stopped (or drained, with `once`). */
export async function runMain(config: Config, given: RunOptions = {}): Promise<RunResult> {
  const g = config.globals;
  const telemetry = new Telemetry();
  // Stops the run for the caller's signal, or when the console output's reader went away.
  const stop = new AbortController();
  const abort = () => stop.abort(given.signal?.reason);
  if (given.signal?.aborted) abort();
  else given.signal?.addEventListener("abort", abort, { once: true });
  const options: RunOptions = { ...given, signal: stop.signal };
  const ctx: RunContext = {
    config,
    options,
    telemetry,
    outputs: [],
    clients: [],
    stores: [],
    timers: [],
    health: { lastLoop: Date.now(), queueOk: false, started: false },
  };
  let server: MetricsServer | undefined;
  try {
    telemetry.emit("setup_started", { name: g.name, id: g.id });
    // Everything start-up needs that `seclake check` also proves, before anything connects.
    for (const input of config.inputs) {
      await probeStateDir(join(g.persistence.directory_name, input.name));
    }
    server = await startEndpoints(ctx);
    await startOutputs(ctx, stop);
    warnAtStart(config, telemetry);
    startReports(ctx);
    const results = await Promise.allSettled(config.inputs.map((input) => runInput(ctx, input)));
    return { ok: runVerdict(ctx, results), telemetry };
  } finally {
    given.signal?.removeEventListener("abort", abort);
    await closeRun(ctx, server);
  }
}

/**
 * The outputs, within the memory budget (which also sizes the decode workers and the reads), and
 * the decode workers shared by every input; a console output whose reader went away aborts `stop`.
 */
async function startOutputs(ctx: RunContext, stop: AbortController): Promise<void> {
  const { config, telemetry } = ctx;
  const widenings = await devoTrustWidenings(config);
  for (const w of widenings) {
    telemetry.emit("devo_trust_widened", { setting: w.what, value: w.value });
  }
  ctx.memory = memoryPlan(config);
  logMemoryPlan(ctx.memory, telemetry);
  ctx.memoryGuard = startMemoryGuard(ctx.memory);
  const knobs = ctx.memory.knobs;
  for (const o of config.outputs) {
    ctx.outputs.push(
      await createOutput(budgetedOutput(o, knobs), widenings, () => {
        if (stop.signal.aborted) return;
        telemetry.emit("output_closed", { output: o.name });
        stop.abort();
      }),
    );
  }
  // Decode workers, shared by every input; loaded while the queue is polled.
  ctx.decodePool = startDecodePool(config.globals, knobs);
  if (ctx.decodePool) telemetry.emit("decode_workers", { threads: ctx.decodePool.threads });
}

/**
 * Whether every input ended well; logs the run's totals. An input that threw is logged, and
 * thrown again when it is the only one.
 */
function runVerdict(ctx: RunContext, results: PromiseSettledResult<boolean>[]): boolean {
  const { telemetry } = ctx;
  let ok = true;
  for (const r of results) {
    if (r.status === "rejected") {
      ok = false;
      const e = r.reason;
      telemetry.emit("error", { error: errorMessage(e), error_id: (e as { id?: number }).id });
      if (results.length === 1) throw e;
    } else if (!r.value) ok = false;
  }
  const m = telemetry.metrics;
  telemetry.emit("run_finished", {
    messages: m.messagesReceived.total(),
    deleted: m.messagesDeleted.total(),
    objects: m.objects.get({ result: "delivered" }),
    skipped: m.objects.get({ result: "skipped" }),
    failed: m.objects.get({ result: "failed" }),
    duplicates: m.duplicatesFiltered.total(),
  });
  return ok;
}

/** Stops the decode workers and timers, closes outputs, stores, clients and the endpoints. */
async function closeRun(ctx: RunContext, server: MetricsServer | undefined): Promise<void> {
  const { telemetry } = ctx;
  ctx.decodePool?.close();
  ctx.memoryGuard?.stop();
  for (const t of ctx.timers) clearInterval(t);
  await Promise.allSettled(ctx.outputs.map((o) => o.close()));
  for (const o of ctx.outputs) {
    telemetry.emit("output_confirmed_total", {
      output: o.name,
      events: o.stats.eventsSent,
      bytes: o.stats.bytesSent,
    });
  }
  await Promise.allSettled(ctx.stores.map((s) => s.close()));
  for (const c of ctx.clients) c.destroy();
  await server?.close();
}

/** The metrics and health endpoints, when `globals.metrics.listen` is set. */
async function startEndpoints(ctx: RunContext): Promise<MetricsServer | undefined> {
  const { config, options, outputs, telemetry, health } = ctx;
  const g = config.globals;
  if (!g.metrics.listen) return undefined;
  let server: MetricsServer;
  try {
    server = await startMetricsServer(g.metrics.listen, {
      live: () => {
        const idle = (Date.now() - health.lastLoop) / 1000;
        const limit = 60 +
          Math.max(...config.inputs.map((i) => i.services.events.wait_time_seconds));
        return idle < limit || !health.started
          ? { ok: true, reason: "loops turning" }
          : { ok: false, reason: `receive loop idle for ${idle.toFixed(0)} seconds` };
      },
      ready: () => {
        if (!health.started) return { ok: false, reason: "starting" };
        if (options.signal?.aborted) return { ok: false, reason: "stopping" };
        if (!health.queueOk) return { ok: false, reason: "queue not reachable" };
        const down = outputs.filter((o) => o.stats.failing).map((o) => o.name);
        return down.length === 0
          ? { ok: true, reason: "ready" }
          : { ok: false, reason: `output not delivering: ${down.join(", ")}` };
      },
      metrics: () => {
        const m = telemetry.metrics;
        for (const o of outputs) {
          m.eventsSent.set({ output: o.name }, o.stats.eventsSent);
          m.bytesSent.set({ output: o.name }, o.stats.bytesSent);
        }
        m.bytesInFlight.set({}, outputs.reduce((t, o) => t + o.stats.pendingBytes, 0));
        m.retries.set({ stage: "output" }, outputs.reduce((t, o) => t + o.stats.retries, 0));
        return telemetry.render();
      },
    }, {
      headerTimeoutMs: g.metrics.header_timeout_seconds * 1000,
      idleTimeoutMs: g.metrics.idle_timeout_seconds * 1000,
      maxConnections: g.metrics.max_connections,
    });
  } catch (e) {
    throw new CollectorError(
      "METRICS_LISTEN",
      `globals.metrics.listen ${g.metrics.listen} cannot be listened on: ${errorMessage(e)}`,
      { cause: e, context: { listen: g.metrics.listen } },
    );
  }
  telemetry.emit("metrics_listening", { address: g.metrics.listen, port: server.port });
  return server;
}

/** The warnings `seclake check` also prints: certificates near their expiry, and the rest. */
function warnAtStart(config: Config, telemetry: Telemetry): void {
  for (const c of expiringCertificates(config.outputs)) {
    telemetry.emit("client_certificate_expiring", {
      path: c.path,
      output: c.output,
      subject: c.subject,
      not_after: c.notAfter.toISOString(),
      days: c.daysLeft,
    });
  }
  for (const w of startupWarnings(config)) {
    telemetry.emit("startup_warning", { setting: w.setting, text: w.text });
  }
}

/** The periodic sender statistics and memory report lines. */
function startReports(ctx: RunContext): void {
  const g = ctx.config.globals;
  const senderStats = new SenderStats();
  ctx.timers.push(setInterval(() => {
    const lines = senderStats.lines(ctx.outputs.map((o) => ({
      name: o.name,
      eventsSent: o.stats.eventsSent,
      bytesSent: o.stats.bytesSent,
      senders: 1,
      queueSize: o.stats.pendingBytes,
    })));
    for (const line of lines) ctx.telemetry.emit("sender_statistics", { line });
  }, g.sender_stats_period_seconds * 1000));
  ctx.timers.push(setInterval(
    () => ctx.telemetry.emit("memory_report", { line: memoryReport() }),
    g.memory_report_period_seconds * 1000,
  ));
}

/** One input, from its queue (and its backfill at start) until stopped; true when all went well. */
async function runInput(ctx: RunContext, input: InputConfig): Promise<boolean> {
  const { config, options, telemetry, health } = ctx;
  const backfill = prePullWanted(input);
  const { queue, reader, redrive } = await openInput(
    input,
    ctx.clients,
    telemetry,
    options.signal,
  );
  if (queue instanceof SqsQueue) pollQueueDepth(ctx, queue);
  const state = await openInputState(config, input, telemetry);
  ctx.stores.push(state);
  const obfuscator = compileObfuscation(input.services.events.obfuscation);
  // The same for the queue's objects and the backfill's.
  const objectOptions = inputObjectOptions(
    input,
    obfuscator,
    ctx.decodePool,
    ctx.memory?.knobs,
  );
  telemetry.emit("input_ready", { input: input.name, type: input.type });
  telemetry.emit("completed_objects_remembered", {
    input: input.name,
    completed: state.completedCount,
  });
  health.started = true;
  if (input.type === "directory") health.queueOk = true;
  const paths: InputPaths = {
    state,
    formatterFor: formatterFactory(config, input),
    // The live path and the backfill never read the same object at the same time.
    locks: new ObjectLocks(),
    objectOptions,
  };
  const live = guardLivePath({ reader, state, locks: paths.locks });
  const prePull = backfill ? startPrePull(ctx, input, paths) : undefined;
  const summary = await runCollector(liveOptions(ctx, input, paths, { queue, redrive, live }));
  if (obfuscator) {
    telemetry.emit("obfuscation_summary", {
      input: input.name,
      fields: obfuscator.stats.fieldsObfuscated,
      events: obfuscator.stats.eventsTouched,
    });
  }
  const backfilled = await prePull;
  return summary.allSucceeded && (backfilled?.ok ?? true);
}

/** What an input's live path and its backfill share. */
interface InputPaths {
  readonly state: StateStore;
  readonly formatterFor: (startMs: number) => LineFormatter;
  readonly locks: ObjectLocks;
  readonly objectOptions: InputObjectOptions;
}

/** Polls the queue's depth for /metrics (ApproximateNumberOfMessages, ...NotVisible). */
function pollQueueDepth(ctx: RunContext, queue: SqsQueue): void {
  const { telemetry } = ctx;
  const poll = () =>
    queue.attributes().then((a) => {
      telemetry.metrics.queueMessages.set({ state: "visible" }, a.visible);
      telemetry.metrics.queueMessages.set({ state: "not_visible" }, a.inFlight);
    }, () => {});
  poll();
  ctx.timers.push(setInterval(poll, ctx.config.globals.queue_depth_poll_seconds * 1000));
}

/** Starts the input's backfill at start (`historical_poll_datetime`) beside its queue. */
function startPrePull(
  ctx: RunContext,
  input: InputConfig,
  paths: InputPaths,
): Promise<{ ok: boolean }> {
  const { config, options } = ctx;
  return runPrePullBackfill({
    open: lakeSource(input),
    config,
    input,
    state: paths.state,
    locks: paths.locks,
    outputs: ctx.outputs,
    formatterFor: paths.formatterFor,
    telemetry: ctx.telemetry,
    signal: options.signal,
    once: options.once,
    shutdownTimeoutMs: config.globals.shutdown_timeout_seconds * 1000,
    objectOptions: paths.objectOptions,
  });
}

/** The receive loop's options for `input`'s queue, read through the guarded `live` path. */
function liveOptions(
  ctx: RunContext,
  input: InputConfig,
  paths: InputPaths,
  source: {
    queue: MessageQueue;
    redrive: boolean;
    live: { reader: ObjectReader; state?: ObjectState };
  },
): CollectorOptions {
  const { options, telemetry, health } = ctx;
  const events = input.services.events;
  return {
    queue: source.queue,
    reader: source.live.reader,
    outputs: ctx.outputs,
    formatterFor: paths.formatterFor,
    select: selector({ ...events, accounts: input.accounts, regions: input.regions }),
    maxConcurrent: Math.min(
      events.max_concurrent_objects,
      ctx.memory?.knobs.maxConcurrentObjects ?? Infinity,
    ),
    maxMessages: events.max_messages,
    waitSeconds: input.type === "directory" ? 0 : events.wait_time_seconds,
    visibilitySeconds: events.visibility_timeout_seconds,
    once: options.once || input.type === "directory",
    signal: options.signal,
    shutdownTimeoutMs: ctx.config.globals.shutdown_timeout_seconds * 1000,
    state: source.live.state,
    quarantine: input.quarantine ? paths.state : undefined,
    maxReceiveCount: input.max_receive_count,
    redrive: source.redrive,
    telemetry,
    onLoop: () => health.lastLoop = Date.now(),
    onReceive: (ok) => health.queueOk = ok,
    objectOptions: paths.objectOptions,
    notificationOptions: {
      // A folder's files carry the bucket name "local"; no other bucket is read from it.
      allowedBuckets: input.type === "directory" ? [LOCAL_BUCKET] : input.allowed_buckets,
    },
  };
}

async function openInput(
  input: InputConfig,
  clients: AwsClients[],
  telemetry: Telemetry,
  signal?: AbortSignal,
): Promise<{ queue: MessageQueue; reader: ObjectReader; redrive: boolean }> {
  if (input.type === "directory") {
    return {
      queue: new DirectoryQueue(input.directory!),
      reader: new LocalObjectReader(input.directory!),
      redrive: false,
    };
  }
  const c = createClients(input);
  clients.push(c);
  const { queue, attributes } = await waitOutPropagation(async () => {
    const url = configuredQueueUrl(input, c.network);
    const queue = url
      ? new SqsQueue(c.sqs, url)
      : await SqsQueue.resolve(c.sqs, input.queue_name!, {
        ownerAccountId: input.queue_account_id,
        signal,
      });
    return { queue, attributes: await queue.attributes() };
  }, {
    budgetMs: input.startup_auth_wait_seconds * 1000,
    signal,
    onWait: (error, pauseMs, until) =>
      telemetry.emit("startup_auth_wait", {
        input: input.name,
        error: error.message,
        error_id: error.id,
        seconds: pauseMs / 1000,
        until: until.toISOString(),
      }),
  });
  if (attributes.visibilityTimeoutSeconds < 10) {
    telemetry.emit("queue_visibility_short", { seconds: attributes.visibilityTimeoutSeconds });
  }
  return {
    queue,
    reader: new S3ObjectReader(c.s3),
    redrive: attributes.redrivePolicy !== undefined,
  };
}
