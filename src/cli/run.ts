/**
 * The `run` command: the composition root of the main job. Loads the configuration, builds the
 * outputs and each input's queue and reader, runs the collector loop, and shuts down cleanly.
 * @module
 */
import { createClients } from "../aws/clients.ts";
import type { AwsClients } from "../aws/clients.ts";
import { S3ObjectReader } from "../aws/s3.ts";
import { SqsQueue } from "../aws/sqs.ts";
import type { Config, InputConfig } from "../config/types.ts";
import { errorMessage } from "../errors.ts";
import { guardLivePath, ObjectLocks } from "../pipeline/backfill_runner.ts";
import { runCollector } from "../pipeline/collector.ts";
import { waitOutPropagation } from "../pipeline/startup.ts";
import type { EventOutput, MessageQueue, ObjectReader } from "../pipeline/ports.ts";
import type { DecodePool } from "../parquet/parallel_lines.ts";
import { DirectoryQueue, LOCAL_BUCKET, LocalObjectReader } from "../source/directory.ts";
import { Telemetry } from "../telemetry/events.ts";
import { logger } from "../telemetry/log.ts";
import { startMetricsServer } from "../telemetry/server.ts";
import type { MetricsServer } from "../telemetry/server.ts";
import { memoryReport, SenderStats } from "../telemetry/stats.ts";
import { compileObfuscation } from "../transform/obfuscate.ts";
import { expiringCertificates } from "../output/cert_expiry.ts";
import { startupWarnings } from "../config/warnings.ts";
import { createOutput, devoTrustWidenings } from "./outputs.ts";
import { formatterFactory, inputObjectOptions, startDecodePool } from "./object_options.ts";
import { selector } from "../source/partition.ts";
import { prePullSource, prePullWanted } from "./backfill.ts";
import { runPrePullBackfill } from "../pipeline/prepull.ts";
import { StateStore } from "../state/store.ts";
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

/** Runs every enabled input of `config` until stopped (or drained, with `once`). */
export async function runMain(config: Config, options: RunOptions = {}): Promise<RunResult> {
  const log = logger("main");
  const outputs: EventOutput[] = [];
  const telemetry = new Telemetry();
  const clients: AwsClients[] = [];
  const stores: StateStore[] = [];
  const timers: ReturnType<typeof setInterval>[] = [];
  const health = { lastLoop: Date.now(), queueOk: false, started: false };
  let server: MetricsServer | undefined;
  let decodePool: DecodePool | undefined;
  const g = config.globals;
  try {
    log.info("Setup started for collector {name} (id {id})", { name: g.name, id: g.id });
    // Everything start-up needs that `seclake check` also proves, before anything connects.
    for (const input of config.inputs) {
      await probeStateDir(join(g.persistence.directory_name, input.name));
    }
    if (g.metrics.listen) {
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
      log.info("Metrics and health endpoints listening on port {port}", { port: server.port });
    }
    const widenings = await devoTrustWidenings(config);
    for (const w of widenings) {
      logger("output").warn(
        "{setting} is in effect: Deno would trust server certificates through it beside chain, so Devo outputs refuse to connect until it is removed",
        { setting: w.what, value: w.value },
      );
    }
    for (const o of config.outputs) outputs.push(await createOutput(o, widenings));
    // Decode workers, shared by every input; loaded while the queue is polled.
    decodePool = startDecodePool(g);
    if (decodePool) {
      log.info("Parquet objects are decoded on {threads} worker threads", {
        threads: decodePool.threads,
      });
    }
    for (const c of expiringCertificates(config.outputs)) {
      logger("output").warn(
        "The client certificate {path} of output {output} ({subject}) expires on {not_after}, in {days} days: renew it before Devo refuses it",
        {
          path: c.path,
          output: c.output,
          subject: c.subject,
          not_after: c.notAfter.toISOString(),
          days: c.daysLeft,
        },
      );
    }
    for (const w of startupWarnings(config)) {
      log.warn("{setting} {text}", { setting: w.setting, text: w.text });
    }
    const senderStats = new SenderStats();
    timers.push(setInterval(() => {
      const lines = senderStats.lines(outputs.map((o) => ({
        name: o.name,
        eventsSent: o.stats.eventsSent,
        bytesSent: o.stats.bytesSent,
        senders: 1,
        queueSize: o.stats.pendingBytes,
      })));
      for (const line of lines) logger("output").info(line);
    }, g.sender_stats_period_seconds * 1000));
    timers.push(
      setInterval(
        () => logger("memory").info(memoryReport()),
        g.memory_report_period_seconds * 1000,
      ),
    );
    const runs = config.inputs.map(async (input) => {
      const backfill = prePullWanted(input);
      const { queue, reader, redrive } = await openInput(input, clients, telemetry, options.signal);
      if (queue instanceof SqsQueue) {
        // Queue depth for /metrics (ApproximateNumberOfMessages, ...NotVisible).
        const poll = () =>
          queue.attributes().then((a) => {
            telemetry.metrics.queueMessages.set({ state: "visible" }, a.visible);
            telemetry.metrics.queueMessages.set({ state: "not_visible" }, a.inFlight);
          }, () => {});
        poll();
        timers.push(setInterval(poll, g.queue_depth_poll_seconds * 1000));
      }
      const state = await openState(config, input);
      stores.push(state);
      const events = input.services.events;
      const obfuscator = compileObfuscation(events.obfuscation);
      // The same for the queue's objects and the backfill's.
      const objectOptions = inputObjectOptions(input, obfuscator, decodePool);
      log.info("Setup terminated for input {input} ({type})", {
        input: input.name,
        type: input.type,
      });
      log.info("PrePull step for input {input}: {completed} completed objects remembered", {
        input: input.name,
        completed: state.completedCount,
      });
      health.started = true;
      if (input.type === "directory") health.queueOk = true;
      const formatterFor = formatterFactory(config, input);
      // The live path and the backfill never read the same object at the same time.
      const locks = new ObjectLocks();
      const live = guardLivePath({ reader, state, locks });
      const prePull = backfill
        ? runPrePullBackfill({
          open: prePullSource(input),
          config,
          input,
          state,
          locks,
          outputs,
          formatterFor,
          telemetry,
          signal: options.signal,
          once: options.once,
          shutdownTimeoutMs: g.shutdown_timeout_seconds * 1000,
          objectOptions,
        })
        : undefined;
      const summary = await runCollector({
        queue,
        reader: live.reader,
        outputs,
        formatterFor,
        select: selector({ ...events, accounts: input.accounts, regions: input.regions }),
        maxConcurrent: events.max_concurrent_objects,
        maxMessages: events.max_messages,
        waitSeconds: input.type === "directory" ? 0 : events.wait_time_seconds,
        visibilitySeconds: events.visibility_timeout_seconds,
        once: options.once || input.type === "directory",
        signal: options.signal,
        shutdownTimeoutMs: g.shutdown_timeout_seconds * 1000,
        state: live.state,
        quarantine: input.quarantine ? state : undefined,
        maxReceiveCount: input.max_receive_count,
        redrive,
        telemetry,
        onLoop: () => health.lastLoop = Date.now(),
        onReceive: (ok) => health.queueOk = ok,
        objectOptions,
        notificationOptions: {
          // A folder's files carry the bucket name "local"; no other bucket is read from it.
          allowedBuckets: input.type === "directory" ? [LOCAL_BUCKET] : input.allowed_buckets,
        },
      });
      if (obfuscator) {
        log.info("Input {input}: {fields} fields obfuscated in {events} events", {
          input: input.name,
          fields: obfuscator.stats.fieldsObfuscated,
          events: obfuscator.stats.eventsTouched,
        });
      }
      const backfilled = await prePull;
      return { allSucceeded: summary.allSucceeded && (backfilled?.ok ?? true) };
    });
    const results = await Promise.allSettled(runs);
    let ok = true;
    for (const r of results) {
      if (r.status === "rejected") {
        ok = false;
        const e = r.reason;
        telemetry.emit("error", { error: errorMessage(e), error_id: (e as { id?: number }).id });
        if (results.length === 1) throw e;
      } else if (!r.value.allSucceeded) ok = false;
    }
    const m = telemetry.metrics;
    log.info(
      "Run finished: {messages} messages received, {deleted} deleted, {objects} objects delivered, {skipped} skipped, {failed} failed, {duplicates} duplicated events filtered out",
      {
        messages: m.messagesReceived.total(),
        deleted: m.messagesDeleted.total(),
        objects: m.objects.get({ result: "delivered" }),
        skipped: m.objects.get({ result: "skipped" }),
        failed: m.objects.get({ result: "failed" }),
        duplicates: m.duplicatesFiltered.total(),
      },
    );
    return { ok, telemetry };
  } finally {
    decodePool?.close();
    for (const t of timers) clearInterval(t);
    await Promise.allSettled(outputs.map((o) => o.close()));
    for (const o of outputs) {
      log.info("Output {output}: {events} events ({bytes} bytes) confirmed", {
        output: o.name,
        events: o.stats.eventsSent,
        bytes: o.stats.bytesSent,
      });
    }
    await Promise.allSettled(stores.map((s) => s.close()));
    for (const c of clients) c.destroy();
    await server?.close();
  }
}

/** Opens the input's state, in its own folder of the persistence directory. */
async function openState(config: Config, input: InputConfig): Promise<StateStore> {
  const log = logger("state");
  const dir = join(config.globals.persistence.directory_name, input.name);
  const { store, report } = await StateStore.open(dir, { resetAuth: input.reset_persistence_auth });
  if (report.reset) {
    log.warn("reset_persistence_auth changed: the state of input {input} was cleared", {
      input: input.name,
    });
  }
  for (const e of report.corrupt) log.error("{error}", { error: e.message });
  return store;
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
    const queue = input.queue_url
      ? new SqsQueue(c.sqs, input.queue_url)
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
    logger("main").warn("Queue visibility timeout is {seconds} seconds", {
      seconds: attributes.visibilityTimeoutSeconds,
    });
  }
  return {
    queue,
    reader: new S3ObjectReader(c.s3),
    redrive: attributes.redrivePolicy !== undefined,
  };
}
