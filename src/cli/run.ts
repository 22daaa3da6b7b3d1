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
import { runCollector } from "../pipeline/collector.ts";
import type { EventOutput, MessageQueue, ObjectReader } from "../pipeline/ports.ts";
import { DirectoryQueue, LocalObjectReader } from "../source/directory.ts";
import { Counters } from "../telemetry/counters.ts";
import { logger } from "../telemetry/log.ts";
import { LineFormatter } from "../transform/line.ts";
import { createOutput } from "./outputs.ts";
import { StateStore } from "../state/store.ts";
import { join } from "node:path";

/** Options for {@link runMain}. */
export interface RunOptions {
  /** Stop when the queue is drained. */
  once?: boolean;
  /** Stops receiving; work in flight is abandoned and its messages come back. */
  signal?: AbortSignal;
}

/** The result of a run: whether every message succeeded, and the counters. */
export interface RunResult {
  readonly ok: boolean;
  readonly counters: Counters;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

/** Runs every enabled input of `config` until stopped (or drained, with `once`). */
export async function runMain(config: Config, options: RunOptions = {}): Promise<RunResult> {
  const log = logger("main");
  const outputs: EventOutput[] = [];
  const counters = new Counters();
  const clients: AwsClients[] = [];
  const stores: StateStore[] = [];
  try {
    for (const o of config.outputs) outputs.push(await createOutput(o));
    const runs = config.inputs.map(async (input) => {
      const { queue, reader, redrive } = await openInput(input, clients, options.signal);
      const state = await openState(config, input);
      stores.push(state);
      const events = input.services.events;
      const host = config.outputs.find((o) => o.hostname)?.hostname ?? hostname();
      log.info("Input {input} started ({type})", { input: input.name, type: input.type });
      return runCollector({
        queue,
        reader,
        outputs,
        formatterFor: (pullStart) =>
          new LineFormatter({
            hostname: host,
            tag: events.tag,
            pullingId: events.add_pulling_id ? String(pullStart) : undefined,
          }),
        maxConcurrent: events.max_concurrent_objects,
        maxMessages: events.max_messages,
        waitSeconds: input.type === "directory" ? 0 : events.wait_time_seconds,
        visibilitySeconds: events.visibility_timeout_seconds,
        once: options.once || input.type === "directory",
        signal: options.signal,
        shutdownTimeoutMs: config.globals.shutdown_timeout_seconds * 1000,
        state,
        quarantine: input.quarantine ? state : undefined,
        maxReceiveCount: input.max_receive_count,
        redrive,
        counters,
      });
    });
    const results = await Promise.allSettled(runs);
    let ok = true;
    for (const r of results) {
      if (r.status === "rejected") {
        ok = false;
        log.error("{error}", { error: errorMessage(r.reason) });
      } else if (!r.value.allSucceeded) ok = false;
    }
    log.info(
      "Run finished: {messages} messages received, {deleted} deleted, {objects} objects read, {skipped} skipped, {failed} failed, {events} events sent",
      {
        messages: counters.messagesReceived,
        deleted: counters.messagesDeleted,
        objects: counters.objectsRead,
        skipped: counters.objectsSkipped,
        failed: counters.objectsFailed,
        events: counters.eventsSent,
      },
    );
    return { ok, counters };
  } finally {
    await Promise.allSettled(outputs.map((o) => o.close()));
    await Promise.allSettled(stores.map((s) => s.close()));
    for (const c of clients) c.destroy();
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
  const queue = input.queue_url
    ? new SqsQueue(c.sqs, input.queue_url)
    : await SqsQueue.resolve(c.sqs, input.queue_name!, {
      ownerAccountId: input.queue_account_id,
      signal,
    });
  const attributes = await queue.attributes();
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
