/**
 * The stage the fault-injection tests share: moto with a fault proxy in front, a lake bucket
 * and queue, test certificates, a mutual-TLS receiver, the collector's configuration, cached
 * Parquet fixtures whose events carry known unique ids (`metadata.uid` is
 * `<seed>-<class>-<row>`), and the tally of what the receiver got against what was published.
 * @module
 */
import { join } from "node:path";
import { writeOcsfParquet } from "../lib/ocsf_fixtures.ts";
import type { OcsfClassUid } from "../lib/ocsf_fixtures.ts";
import { makeCerts } from "./certs.ts";
import type { TestCerts } from "./certs.ts";
import { startFaultProxy } from "./fault_proxy.ts";
import type { FaultProxy } from "./fault_proxy.ts";
import { createTestLake, TEST_CREDENTIALS } from "./lake.ts";
import type { TestLake } from "./lake.ts";
import { MOTO_CA_FILE, startMoto } from "./moto.ts";
import type { MotoServer } from "./moto.ts";
import { startTlsReceiver } from "./tls_receiver.ts";
import type { LineReceiver, ReceiverOptions } from "./tls_receiver.ts";

/** Environment of a collector process talking to moto. */
export const AWS_ENV = {
  AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  AWS_CA_BUNDLE: MOTO_CA_FILE,
};

/** A Security Lake partition prefix. */
export const DAY = "region=us-east-1/accountId=111122223333/eventDay=20240410";

/** One fault test's world. `await using` tears it all down. */
export interface FaultWorld extends AsyncDisposable {
  readonly moto: MotoServer;
  readonly proxy: FaultProxy;
  readonly lake: TestLake;
  readonly certs: TestCerts;
  /** The receiver; replace it with {@link FaultWorld.restartReceiver}. */
  readonly receiver: LineReceiver;
  /** Port the receiver listens on (kept across restarts). */
  readonly receiverPort: number;
  /** Scratch directory: config, state, fixtures of this test. */
  readonly dir: string;
  /** The collector's state directory for the input (`<persistence>/<input name>`). */
  readonly stateDir: string;
  /** Every line received, across receiver restarts. */
  lines(): string[];
  /** Stops the receiver (lines so far are kept). */
  stopReceiver(): Promise<void>;
  /** Starts a receiver again on the same port. */
  restartReceiver(options?: ReceiverOptions): Promise<void>;
  /** Writes the collector's config with these settings; returns its path. */
  writeConfig(settings?: ConfigSettings): Promise<string>;
  /** Uploads a cached fixture under `key`; returns its ids and size. */
  putFixture(key: string, fixture: FixtureSpec): Promise<PutFixture>;
}

/** A generated Parquet fixture. */
export interface FixtureSpec {
  classUid: OcsfClassUid;
  rows: number;
  seed: number;
  /** Default 5000. */
  rowGroupSize?: number;
}

/** What {@link FaultWorld.putFixture} uploaded. */
export interface PutFixture {
  readonly key: string;
  readonly ids: string[];
  readonly bytes: number;
  readonly etag: string;
}

/** Collector settings a test varies. */
export interface ConfigSettings {
  visibility?: number;
  shutdownTimeout?: number;
  maxReceiveCount?: number;
  maxBatchBytes?: number;
  commitInterval?: number;
  retries?: number;
  confirmTimeout?: number;
  maxConcurrent?: number;
  /** Use the rogue client certificate (the receiver rejects it). */
  rogueCert?: boolean;
  /** Talk to moto directly instead of through the proxy. */
  direct?: boolean;
  logLevel?: "debug" | "info";
}

let cacheDir: string | undefined;

/**
 * Writes the fixture (once per test process: fixtures are deterministic) and returns its path.
 * The cache is removed when the test process unloads.
 */
export async function fixtureFile(f: FixtureSpec): Promise<string> {
  if (!cacheDir) {
    const dir = cacheDir = await Deno.makeTempDir({ prefix: "seclake-fault-fixtures-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // already gone
      }
    });
  }
  const rg = f.rowGroupSize ?? 5000;
  const path = join(cacheDir, `${f.classUid}-${f.rows}-${f.seed}-${rg}.parquet`);
  try {
    await Deno.stat(path);
  } catch {
    await writeOcsfParquet(path, {
      classUid: f.classUid,
      rows: f.rows,
      seed: f.seed,
      rowGroupSize: rg,
      codec: "GZIP",
      layout: "avro",
    });
  }
  return path;
}

/** The `metadata.uid` values of a fixture's events, in row order. */
export function fixtureIds(f: FixtureSpec): string[] {
  return Array.from({ length: f.rows }, (_, row) => `${f.seed}-${f.classUid}-${row}`);
}

let counter = 0;

/** Starts moto, the proxy, a receiver and a lake with a queue of its own. */
export async function startWorld(
  options: { receiver?: ReceiverOptions; queueVisibility?: number } = {},
): Promise<FaultWorld> {
  const moto = await startMoto();
  const stack: (() => Promise<unknown> | unknown)[] = [() => moto.stop()];
  const teardown = async () => {
    for (const f of stack.reverse()) await Promise.resolve(f()).catch(() => {});
  };
  try {
    const proxy = await startFaultProxy(moto.endpoint);
    stack.push(() => proxy.close());
    const certs = await makeCerts();
    stack.push(() => certs.cleanup());
    const dir = await Deno.makeTempDir({ prefix: "seclake-faults-" });
    stack.push(() => Deno.remove(dir, { recursive: true }));
    const n = ++counter;
    const lake = await createTestLake(moto.endpoint, {
      bucket: `aws-security-data-lake-us-east-1-fault${n}${crypto.randomUUID().slice(0, 8)}`,
      queueName: `AmazonSecurityLake-fault-${n}-Main-Queue`,
      visibilityTimeout: options.queueVisibility ?? 10,
    });
    stack.push(() => lake.destroy());
    let receiver = await startTlsReceiver(certs, options.receiver);
    const receiverPort = receiver.port;
    const previous: string[] = [];
    stack.push(() => receiver.close());
    const world: FaultWorld = {
      moto,
      proxy,
      lake,
      certs,
      get receiver() {
        return receiver;
      },
      receiverPort,
      dir,
      stateDir: join(dir, "state", "security_lake"),
      lines: () => [...previous, ...receiver.lines],
      async stopReceiver() {
        await receiver.close();
      },
      async restartReceiver(opts = {}) {
        await receiver.close();
        previous.push(...receiver.lines);
        receiver = await startTlsReceiver(certs, { ...opts, port: receiverPort });
      },
      async writeConfig(s = {}) {
        const path = join(dir, "config.yaml");
        await Deno.writeTextFile(path, configYaml(world, s));
        return path;
      },
      async putFixture(key, f) {
        const path = await fixtureFile(f);
        const bytes = await Deno.readFile(path);
        const etag = await lake.put(key, bytes);
        return { key, ids: fixtureIds(f), bytes: bytes.length, etag };
      },
      [Symbol.asyncDispose]: teardown,
    };
    return world;
  } catch (e) {
    await teardown();
    throw e;
  }
}

function configYaml(w: FaultWorld, s: ConfigSettings): string {
  const c = w.certs;
  const [cert, key] = s.rogueCert
    ? [c.rogueClientCertPath, c.rogueClientKeyPath]
    : [c.clientCertPath, c.clientKeyPath];
  const out = [
    `address: localhost`,
    `port: ${w.receiverPort}`,
    `chain: ${c.caCertPath}`,
    `cert: ${cert}`,
    `key: ${key}`,
    `hostname: fault-host`,
    `connect_timeout_seconds: 5`,
    s.maxBatchBytes !== undefined ? `max_batch_bytes: ${s.maxBatchBytes}` : "",
    s.commitInterval !== undefined ? `commit_interval_seconds: ${s.commitInterval}` : "",
    s.retries !== undefined ? `retries: ${s.retries}` : "",
    s.confirmTimeout !== undefined ? `confirm_timeout_seconds: ${s.confirmTimeout}` : "",
  ].filter((l) => l).map((l) => `      ${l}`).join("\n");
  return `globals:
  id: faults
  name: seclake-faults
  persistence: { type: filesystem, directory_name: ${join(w.dir, "state")} }
  log_level: ${s.logLevel ?? "info"}
${
    s.shutdownTimeout !== undefined
      ? `  shutdown_timeout_seconds: ${s.shutdownTimeout}\n`
      : ""
  }outputs:
  devo_1:
    type: devo_platform
    config:
${out}
inputs:
  security_lake:
    id: 1
    enabled: true
    credentials: { aws_access_key_id: "\${AWS_ACCESS_KEY_ID}", aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}" }
    region: us-east-1
    queue_name: ${w.lake.queueName}
    endpoint_url: ${s.direct ? w.moto.endpoint : w.proxy.endpoint}
${
    s.maxReceiveCount !== undefined
      ? `    max_receive_count: ${s.maxReceiveCount}\n`
      : ""
  }    services:
      events:
        wait_time_seconds: 1
        visibility_timeout_seconds: ${s.visibility ?? 10}
${s.maxConcurrent !== undefined ? `        max_concurrent_objects: ${s.maxConcurrent}\n` : ""}`;
}

/** What the receiver got, against the ids published. */
export interface Tally {
  /** Published ids that never arrived. */
  readonly missing: string[];
  /** Lines whose id is not one of those published. */
  readonly unexpected: number;
  /** Arrivals beyond the first, summed over ids. */
  readonly duplicates: number;
  /** Bytes (with newline) of those extra arrivals. */
  readonly duplicateBytes: number;
  /** Most arrivals of one id. */
  readonly maxCopies: number;
  /** Number of lines received. */
  readonly lines: number;
}

const UID = /"metadata":\{[^]*?"uid":"(\d+-\d+-\d+)"/;

/** The `metadata.uid` of a received Devo line. */
export function lineId(line: string): string | undefined {
  const brace = line.indexOf("{");
  if (brace < 0) return undefined;
  try {
    const event = JSON.parse(line.slice(brace)) as { metadata?: { uid?: string } };
    return event.metadata?.uid;
  } catch {
    return UID.exec(line)?.[1];
  }
}

/** Counts arrivals of each published id in `lines`. */
export function tally(lines: readonly string[], published: Iterable<string>): Tally {
  const seen = new Map<string, number>();
  for (const id of published) seen.set(id, 0);
  let unexpected = 0;
  let duplicates = 0;
  let duplicateBytes = 0;
  const enc = new TextEncoder();
  for (const line of lines) {
    const id = lineId(line);
    const n = id === undefined ? undefined : seen.get(id);
    if (n === undefined) {
      unexpected++;
      continue;
    }
    if (n >= 1) {
      duplicates++;
      duplicateBytes += enc.encode(line).length + 1;
    }
    seen.set(id!, n + 1);
  }
  const missing = [...seen].filter(([, n]) => n === 0).map(([id]) => id);
  const maxCopies = Math.max(0, ...seen.values());
  return { missing, unexpected, duplicates, duplicateBytes, maxCopies, lines: lines.length };
}

/** A one-line summary of a tally for assertion messages. */
export function describe(t: Tally): string {
  return `${t.lines} lines: ${t.missing.length} ids missing${
    t.missing.length ? ` (first ${t.missing.slice(0, 3).join(", ")})` : ""
  }, ${t.duplicates} duplicates (${t.duplicateBytes} bytes), ${t.unexpected} unexpected, at most ${t.maxCopies} copies of one id`;
}

/** The "Run finished" counters the collector logs at exit. */
export function runFinished(log: string): Record<string, number> | undefined {
  const m = log.match(
    /Run finished: (\d+) messages? received, (\d+) deleted, (\d+) objects? delivered, (\d+) skipped, (\d+) failed, (\d+) duplicated events? filtered out/,
  );
  if (!m) return undefined;
  const [received, deleted, delivered, skipped, failed, duplicates] = m.slice(1).map(Number);
  return { received, deleted, delivered, skipped, failed, duplicates } as Record<string, number>;
}
