/**
 * The `check` command: validates the configuration file, then probes every dependency once and
 * prints a checklist, one line per check with ✓ (passed), ✗ (failed, with the error id) or –
 * (not checked). Probes: the AWS credentials (STS GetCallerIdentity), the queue (resolve and
 * GetQueueAttributes), S3 read access to the lake bucket when it is known, and each output (a
 * TLS handshake and a round trip that proves the receiver accepted the client certificate).
 * Exit code: 0 when every check passed, 78 for a configuration error, 69 when a dependency
 * failed. No secret appears in its output.
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { createClients } from "../aws/clients.ts";
import type { AwsClients } from "../aws/clients.ts";
import { AUTH_ERROR_NAMES, wrapAwsError } from "../aws/errors.ts";
import { SqsQueue } from "../aws/sqs.ts";
import { readConfigText, validateConfig } from "../config/load.ts";
import type { LoadOptions } from "../config/load.ts";
import type { Config, InputConfig, OutputConfig } from "../config/types.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { CERT_ALERT, classifyConnError, widenedTrustError } from "../output/connectors.ts";
import type { TrustWidening } from "../output/tls_trust.ts";
import { devoTrustWidenings } from "./outputs.ts";
import { expiringCertificates } from "../output/cert_expiry.ts";
import { probeStateDir } from "../state/atomic.ts";
import { prePullStarted } from "./backfill.ts";

/** Exit codes of `seclake check` (the same as the other commands'). */
export const CHECK_EXIT = { ok: 0, unavailable: 69, config: 78 } as const;

/** The outcome of one check. */
export interface CheckLine {
  /** What was checked, e.g. `inputs.security_lake: AWS credentials`. */
  readonly check: string;
  /** `warning`: works, but needs attention soon (a certificate near its expiry). */
  readonly status: "ok" | "failed" | "skipped" | "warning";
  /** What was found, or why it failed (secrets masked). */
  readonly detail: string;
  /** The error, for a failed check. */
  readonly error?: {
    readonly id: number;
    readonly family: string;
    readonly code: ErrorCode;
  };
}

/** The whole checklist and the exit code it implies. */
export interface CheckReport {
  readonly ok: boolean;
  readonly exit_code: number;
  readonly config: string;
  readonly checks: readonly CheckLine[];
}

/** Options for {@link runChecks}. */
export interface CheckOptions extends LoadOptions {
  /** Called with each line as soon as its check is done (for live output). */
  onLine?: (line: CheckLine) => void;
  /** Stops the probes. */
  signal?: AbortSignal;
  /** Time allowed for each AWS call, in milliseconds (default 20000). */
  awsTimeoutMs?: number;
}

/** Runs `seclake check ARGS`: `--config FILE` and optionally `--json`; returns the exit code. */
export async function checkCommand(
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<number> {
  let values: { config?: string; json?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: "string", short: "c" },
        json: { type: "boolean", default: false },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (e) {
    throw new CollectorError(
      "USAGE",
      `${errorMessage(e)}; usage: seclake check --config FILE [--json]`,
    );
  }
  if (typeof values.config !== "string") {
    throw new CollectorError("USAGE", "check needs --config FILE");
  }
  const json = values.json === true;
  const report = await runChecks(values.config, {
    signal: options.signal,
    onLine: json ? undefined : (line) => console.log(formatLine(line)),
  });
  if (json) console.log(JSON.stringify(report, null, 2));
  else {
    const failed = report.checks.filter((c) => c.status === "failed").length;
    console.log(
      failed === 0
        ? "All checks passed"
        : `${failed} check${failed === 1 ? "" : "s"} failed (see docs/errors.md for each id)`,
    );
  }
  return report.exit_code;
}

/**
 * One checklist line as printed: `✓ check: detail`, `✗ check: Family id: detail`, `! ...` (a
 * warning), `– ...` (not checked).
 */
export function formatLine(line: CheckLine): string {
  const mark = line.status === "ok"
    ? "✓"
    : line.status === "failed"
    ? "✗"
    : line.status === "warning"
    ? "!"
    : "–";
  const id = line.error ? `${line.error.family} ${line.error.id}: ` : "";
  return `${mark} ${line.check}: ${id}${line.detail}`;
}

/** Validates the configuration at `path` and probes its dependencies; never throws. */
export async function runChecks(path: string, options: CheckOptions = {}): Promise<CheckReport> {
  const lines: CheckLine[] = [];
  let secrets: string[] = [];
  const push = (line: CheckLine) => {
    const clean = { ...line, detail: scrub(line.detail, secrets) };
    lines.push(clean);
    options.onLine?.(clean);
  };
  const report = (exit: number): CheckReport => ({
    ok: exit === CHECK_EXIT.ok,
    exit_code: exit,
    config: resolve(path),
    checks: lines,
  });

  let config: Config;
  try {
    const text = await readConfigText(path);
    const result = validateConfig(text, {
      baseDir: dirname(resolve(path)),
      backfillStarted: prePullStarted,
      ...options,
    });
    if (result.errors.length > 0) {
      for (const e of result.errors) push(failed("configuration", e));
      return report(CHECK_EXIT.config);
    }
    config = result.config!;
  } catch (e) {
    push(failed("configuration", e));
    return report(CHECK_EXIT.config);
  }
  secrets = secretValues(config);
  push({
    check: "configuration",
    status: "ok",
    detail: `${resolve(path)} is valid: ${count(config.inputs.length, "enabled input")}, ${
      count(config.outputs.length, "output")
    }`,
  });

  for (const input of config.inputs) {
    push(await checkStateDir(config, input));
    await checkInput(input, options, push);
  }
  for (const c of expiringCertificates(config.outputs)) {
    push({
      check: `outputs.${c.output} client certificate`,
      status: "warning",
      detail:
        `${c.path} (${c.subject}) expires on ${c.notAfter.toISOString()}, in ${c.daysLeft} days: renew it before Devo refuses it`,
    });
  }
  const widenings = await devoTrustWidenings(config).catch(() => []);
  for (const output of config.outputs) {
    push(await checkOutput(output, options.signal, widenings));
  }
  const failures = lines.filter((l) => l.status === "failed");
  return report(
    failures.length === 0
      ? CHECK_EXIT.ok
      : failures.some((l) => l.error?.family === "SetupError")
      ? CHECK_EXIT.config
      : CHECK_EXIT.unavailable,
  );
}

/** The input's state folder can be created and written, as `run` needs at start-up. */
async function checkStateDir(config: Config, input: InputConfig): Promise<CheckLine> {
  const dir = join(config.globals.persistence.directory_name, input.name);
  const check = `inputs.${input.name} state folder`;
  try {
    await probeStateDir(dir);
    return { check, status: "ok", detail: `${dir} can be written` };
  } catch (e) {
    return failed(check, e);
  }
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/** A failed line for `e`; a foreign error is wrapped as `fallback`. */
function failed(check: string, e: unknown, fallback: ErrorCode = "CONFIG_UNREADABLE"): CheckLine {
  const err = e instanceof CollectorError
    ? e
    : new CollectorError(fallback, errorMessage(e), { cause: e });
  return {
    check,
    status: "failed",
    detail: err.detail,
    error: { id: err.id, family: err.family, code: err.code },
  };
}

/** Every secret value of the configuration, to scrub from anything printed. */
function secretValues(config: Config): string[] {
  const out: string[] = [];
  for (const i of config.inputs) {
    for (const c of [i.credentials, i.sqs_credentials, i.s3_credentials]) {
      if (!c) continue;
      for (const v of [c.aws_secret_access_key, c.aws_session_token, c.external_id]) {
        if (v && v.length >= 4) out.push(v);
      }
    }
    for (const r of i.services.events.obfuscation) {
      if (r.hash_key && r.hash_key.length >= 4) out.push(r.hash_key);
    }
  }
  return out;
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join("****");
  return out;
}

/** Runs `fn` with a signal that aborts after `ms` or when `outer` aborts. */
async function within<T>(
  ms: number,
  outer: AbortSignal | undefined,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${ms} ms`)), ms);
  const stop = () => controller.abort(outer?.reason);
  outer?.addEventListener("abort", stop, { once: true });
  try {
    return await fn(controller.signal);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener("abort", stop);
  }
}

function awsName(e: unknown): string {
  return (e as { name?: string } | undefined)?.name ?? "Error";
}

async function checkInput(
  input: InputConfig,
  options: CheckOptions,
  push: (line: CheckLine) => void,
): Promise<void> {
  const name = `inputs.${input.name}`;
  if (input.type === "directory") {
    push({ check: `${name} folder`, status: "ok", detail: `${input.directory} exists` });
    return;
  }
  const ms = options.awsTimeoutMs ?? 20_000;
  let clients: AwsClients | undefined;
  try {
    clients = createClients(input);
    const credsOk = await checkCredentials(input, clients, ms, options.signal, push);
    if (!credsOk) {
      const why = "not checked: the AWS credentials failed";
      push({ check: `${name} queue`, status: "skipped", detail: why });
      push({ check: `${name} bucket`, status: "skipped", detail: why });
      return;
    }
    push(await checkQueue(input, clients, ms, options.signal));
    push(await checkBucket(input, clients, ms, options.signal));
  } catch (e) {
    if (e instanceof CollectorError && e.code === "CONFIG_CA_BUNDLE") {
      push(failed(`${name} AWS trust`, e));
      return;
    }
    push(failed(`${name} AWS clients`, e, "CREDENTIALS_UNAVAILABLE"));
  } finally {
    if (clients) { for (const line of networkLines(input, clients)) push(line); }
    clients?.destroy();
  }
}

const SERVICES = [["sqs", "SQS"], ["s3", "S3"], ["sts", "STS"]] as const;

/**
 * One line per AWS service: the endpoint reached (or configured), the proxy it went through,
 * and the certificates it is trusted with.
 */
export function networkLines(input: InputConfig, clients: AwsClients): CheckLine[] {
  const trust = clients.network.trust;
  const trusted = `trusted: the default store${trust ? ` and ${trust.path} (${trust.from})` : ""}`;
  return SERVICES.map(([service, label]) => {
    const route = clients.handlers[service].lastRoute;
    const configured = clients.network.endpoint(service);
    const where = route?.url ?? configured ??
      `AWS's ${clients.network.fips ? "FIPS " : ""}${label} endpoint in ${input.region}`;
    const proxy = route
      ? route.proxy
      : configured
      ? clients.network.proxyFor(new URL(configured))
      : clients.network.proxyFor(new URL("https://amazonaws.com"));
    const via = proxy ? `through proxy ${proxy.display} (${proxy.from})` : "direct, no proxy";
    return {
      check: `inputs.${input.name} network (${label})`,
      status: "ok",
      detail: `${where}${route ? "" : " (not reached)"}, ${via}, ${trusted}`,
    } satisfies CheckLine;
  });
}

async function checkCredentials(
  input: InputConfig,
  clients: AwsClients,
  ms: number,
  signal: AbortSignal | undefined,
  push: (line: CheckLine) => void,
): Promise<boolean> {
  const check = `inputs.${input.name} credentials`;
  let all = true;
  const [sqsCreds, s3Creds] = await Promise.allSettled([
    clients.sqs.config.credentials(),
    clients.s3.config.credentials(),
  ]);
  const distinct = sqsCreds.status === "fulfilled" && s3Creds.status === "fulfilled" &&
    sqsCreds.value.accessKeyId !== s3Creds.value.accessKeyId;
  const sides: [string, typeof sqsCreds][] = distinct
    ? [[" (SQS)", sqsCreds], [" (S3)", s3Creds]]
    : [["", sqsCreds]];
  for (const [label, creds] of sides) {
    if (creds.status === "rejected") {
      all = false;
      push(failed(check + label, credentialsError(input, creds.reason)));
      continue;
    }
    const stsEndpoint = clients.network.endpoint("sts");
    const sts = new STSClient({
      region: input.region ?? "us-east-1",
      credentials: creds.value,
      maxAttempts: 2,
      ...(stsEndpoint ? { endpoint: stsEndpoint } : { useFipsEndpoint: clients.network.fips }),
      requestHandler: clients.handlers.sts,
    });
    try {
      const out = await within(
        ms,
        signal,
        (abortSignal) => sts.send(new GetCallerIdentityCommand({}), { abortSignal }),
      );
      push({
        check: check + label,
        status: "ok",
        detail: `accepted: ${out.Arn ?? "unknown identity"} (account ${out.Account ?? "?"})`,
      });
    } catch (e) {
      all = false;
      push(failed(check + label, stsError(e)));
    } finally {
      sts.destroy();
    }
  }
  return all;
}

function credentialsError(input: InputConfig, e: unknown): CollectorError {
  if (e instanceof CollectorError) return e;
  const name = awsName(e);
  if (
    input.credentials.role_arn &&
    /AccessDenied|AssumeRole|InvalidParameter/i.test(`${name} ${errorMessage(e)}`)
  ) {
    return new CollectorError(
      "ASSUME_ROLE_FAILED",
      `Cannot assume ${input.credentials.role_arn}: ${name}: ${errorMessage(e)}`,
      { cause: e },
    );
  }
  if (AUTH_ERROR_NAMES.has(name)) return stsError(e);
  return new CollectorError(
    "CREDENTIALS_UNAVAILABLE",
    `No AWS credentials could be obtained: ${name}: ${errorMessage(e)}`,
    { cause: e },
  );
}

function stsError(e: unknown): CollectorError {
  if (e instanceof CollectorError) return e;
  const name = awsName(e);
  const status = (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const message = errorMessage(e);
  const what = `STS GetCallerIdentity failed: ${name}${status ? ` (HTTP ${status})` : ""}${
    message && message !== name ? `: ${message}` : ""
  }`;
  if (AUTH_ERROR_NAMES.has(name) || status === 403) {
    return new CollectorError("AWS_AUTH", what, { cause: e });
  }
  return new CollectorError("STS_CALL", what, { cause: e });
}

async function checkQueue(
  input: InputConfig,
  clients: AwsClients,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<CheckLine> {
  const check = `inputs.${input.name} queue`;
  const label = input.queue_url ?? input.queue_name!;
  try {
    const queue = input.queue_url
      ? new SqsQueue(clients.sqs, input.queue_url)
      : await within(ms, signal, (s) =>
        SqsQueue.resolve(clients.sqs, input.queue_name!, {
          ownerAccountId: input.queue_account_id,
          signal: s,
        }));
    let attrs: Record<string, string>;
    try {
      const out = await within(ms, signal, (abortSignal) =>
        clients.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queue.url,
            AttributeNames: [
              "VisibilityTimeout",
              "RedrivePolicy",
              "ApproximateNumberOfMessages",
              "ApproximateNumberOfMessagesNotVisible",
            ],
          }),
          { abortSignal },
        ));
      attrs = out.Attributes ?? {};
    } catch (e) {
      if (/NonExistentQueue|QueueDoesNotExist/.test(awsName(e))) {
        throw new CollectorError("QUEUE_NOT_FOUND", `Queue ${queue.url} does not exist`, {
          cause: e,
        });
      }
      throw sqsError(e, "GetQueueAttributes");
    }
    const redrive = parseRedrive(attrs.RedrivePolicy);
    return {
      check,
      status: "ok",
      detail: `${label}: visibility timeout ${
        attrs.VisibilityTimeout ?? "?"
      } s (the collector asks for ${input.services.events.visibility_timeout_seconds} s), redrive policy ${redrive}, about ${
        attrs.ApproximateNumberOfMessages ?? "?"
      } messages waiting and ${attrs.ApproximateNumberOfMessagesNotVisible ?? "?"} in flight`,
    };
  } catch (e) {
    return failed(check, e instanceof CollectorError ? e : sqsError(e, "GetQueueUrl"));
  }
}

function sqsError(e: unknown, operation: string): CollectorError {
  if (e instanceof CollectorError) return e;
  const name = awsName(e);
  if (/AccessDenied/.test(name)) {
    return new CollectorError("SQS_FORBIDDEN", `SQS ${operation} denied: ${errorMessage(e)}`, {
      cause: e,
    });
  }
  return wrapAwsError(e, "SQS", operation);
}

function parseRedrive(policy: string | undefined): string {
  if (!policy) return "none (failing messages are retried until the collector quarantines them)";
  try {
    const p = JSON.parse(policy) as { deadLetterTargetArn?: string; maxReceiveCount?: number };
    return `to ${p.deadLetterTargetArn?.split(":").at(-1) ?? "?"} after ${
      p.maxReceiveCount ?? "?"
    } receives`;
  } catch {
    return "present";
  }
}

async function checkBucket(
  input: InputConfig,
  clients: AwsClients,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<CheckLine> {
  const check = `inputs.${input.name} bucket`;
  const bucket = input.bucket;
  if (bucket === undefined) {
    return {
      check,
      status: "skipped",
      detail: "not checked: set bucket to the lake bucket to check it",
    };
  }
  try {
    const list = await within(
      ms,
      signal,
      (abortSignal) =>
        clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }), { abortSignal }),
    );
    const key = list.Contents?.[0]?.Key;
    if (key === undefined) {
      return {
        check,
        status: "ok",
        detail: `s3://${bucket} can be listed; it holds no object yet`,
      };
    }
    const head = await within(
      ms,
      signal,
      (abortSignal) =>
        clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }),
    );
    return {
      check,
      status: "ok",
      detail: `s3://${bucket}/${key} can be read (${head.ContentLength ?? "?"} bytes)`,
    };
  } catch (e) {
    if (awsName(e) === "NoSuchBucket") {
      return failed(
        check,
        new CollectorError(
          "LAKE_BUCKET_MISSING",
          `Bucket ${bucket} does not exist in ${input.region}`,
          {
            cause: e,
          },
        ),
      );
    }
    return failed(check, wrapAwsError(e, "S3", "ListObjectsV2/HeadObject", { bucket }));
  }
}

async function checkOutput(
  o: OutputConfig,
  signal: AbortSignal | undefined,
  widenings: readonly TrustWidening[],
): Promise<CheckLine> {
  const check = `outputs.${o.name} (${o.type})`;
  if (o.type === "console") {
    return { check, status: "ok", detail: "standard output, nothing to probe" };
  }
  try {
    if (o.type === "devo_platform" && widenings.length > 0) {
      throw widenedTrustError(`${o.address}:${o.port}`, widenings);
    }
    const detail = o.type === "devo_platform"
      ? await probeTls(o, signal)
      : await probeTcp(o, signal);
    return { check, status: "ok", detail };
  } catch (e) {
    return failed(check, e, "OUTPUT_CONNECT");
  }
}

/** Options of one output probe (what {@link probeTls} and {@link probeTcp} read from the output). */
export interface ProbeTarget {
  readonly address?: string;
  readonly port?: number;
  readonly chain?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly connect_timeout_seconds: number;
  readonly confirm_timeout_seconds: number;
}

/**
 * Opens a mutual-TLS connection to `o`, then proves the receiver accepted the client
 * certificate. With TLS 1.3 the server checks the client certificate after the client's
 * handshake is complete, so a rejection arrives as an alert or a close just after it: the probe
 * keeps a read pending, writes nothing, and waits twice the handshake's duration (at least
 * 200 ms); a close, reset or alert in that window means the certificate was rejected. It then
 * closes its sending side and requires the receiver to answer with end of stream (a clean end
 * or an `UnexpectedEof` both count). Returns what was found; throws a `CollectorError`.
 */
export async function probeTls(o: ProbeTarget, signal?: AbortSignal): Promise<string> {
  const target = `${o.address}:${o.port}`;
  const [caCert, cert, key] = await Promise.all(
    [o.chain!, o.cert!, o.key!].map((p) => Deno.readTextFile(p)),
  );
  const started = performance.now();
  let conn: Deno.TlsConn;
  try {
    conn = await within(o.connect_timeout_seconds * 1000, signal, async (s) => {
      const c = await abortable(
        Deno.connectTls({
          hostname: o.address!,
          port: o.port!,
          caCerts: [caCert!],
          cert: cert!,
          key: key!,
        }),
        s,
      );
      try {
        await abortable(c.handshake(), s);
        return c;
      } catch (e) {
        c.close();
        throw e;
      }
    });
  } catch (e) {
    throw handshakeError(e, target);
  }
  const handshakeMs = performance.now() - started;
  try {
    await confirmRoundTrip(conn, target, handshakeMs, o.confirm_timeout_seconds, signal, true);
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  return `${target}: TLS handshake in ${Math.round(handshakeMs)} ms, client certificate accepted`;
}

/** Opens a TCP connection to `o` and requires end of stream after closing the sending side. */
export async function probeTcp(o: ProbeTarget, signal?: AbortSignal): Promise<string> {
  const target = `${o.address}:${o.port}`;
  const started = performance.now();
  let conn: Deno.TcpConn;
  try {
    conn = await within(
      o.connect_timeout_seconds * 1000,
      signal,
      (s) => abortable(Deno.connect({ hostname: o.address!, port: o.port! }), s),
    );
  } catch (e) {
    throw classifyConnError(e, target, "connect");
  }
  const connectMs = performance.now() - started;
  try {
    await confirmRoundTrip(conn, target, connectMs, o.confirm_timeout_seconds, signal, false);
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  return `${target}: connected in ${Math.round(connectMs)} ms, end of stream confirmed`;
}

type ReadResult = { n: number | null } | { error: unknown };

async function confirmRoundTrip(
  conn: Deno.Conn,
  target: string,
  setupMs: number,
  confirmSeconds: number,
  signal: AbortSignal | undefined,
  tls: boolean,
): Promise<void> {
  const buf = new Uint8Array(4096);
  const read = (): Promise<ReadResult> =>
    conn.read(buf).then((n) => ({ n }), (error) => ({ error }));
  let pending = read();
  if (tls) {
    const windowMs = Math.max(200, 2 * setupMs);
    const early = await within(
      windowMs,
      signal,
      (s) =>
        Promise.race([
          pending,
          new Promise<undefined>((r) =>
            s.addEventListener("abort", () => r(undefined), { once: true })
          ),
        ]),
    );
    if (early !== undefined) {
      if ("n" in early && early.n !== null) {
        pending = read(); // the receiver spoke first; keep reading until it ends
      } else {
        const why = !("error" in early)
          ? "it closed the connection"
          : early.error instanceof Deno.errors.UnexpectedEof
          ? "it closed the connection without a TLS close_notify"
          : early.error instanceof Deno.errors.ConnectionReset
          ? "it reset the connection"
          : errorMessage(early.error);
        throw new CollectorError(
          "OUTPUT_CERT_REJECTED",
          `${target} ended the connection right after the TLS handshake (${why}): it did not accept the client certificate in cert`,
          { context: { target } },
        );
      }
    }
  }
  try {
    await conn.closeWrite();
  } catch (e) {
    throw classifyConnError(e, target, "confirm");
  }
  await within(confirmSeconds * 1000, signal, async (s) => {
    const timedOut = new Promise<"timeout">((r) =>
      s.addEventListener("abort", () => r("timeout"), { once: true })
    );
    while (true) {
      const r = await Promise.race([pending, timedOut]);
      if (r === "timeout") {
        throw new CollectorError(
          "OUTPUT_UNCONFIRMED",
          `${target} did not end its side within ${confirmSeconds} seconds after ours was closed`,
          { context: { target } },
        );
      }
      if ("error" in r) {
        if (r.error instanceof Deno.errors.UnexpectedEof) return;
        if (tls && CERT_ALERT.test(errorMessage(r.error))) {
          throw new CollectorError(
            "OUTPUT_CERT_REJECTED",
            `${target} rejected the client certificate in cert: ${errorMessage(r.error)}`,
            { cause: r.error, context: { target } },
          );
        }
        throw classifyConnError(r.error, target, "confirm");
      }
      if (r.n === null) return;
      pending = read();
    }
  });
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    // A connection that opens after the abort is closed at once.
    p.then((v) => {
      if (signal.aborted && v && typeof (v as { close?: unknown }).close === "function") {
        try {
          (v as unknown as Deno.Conn).close();
        } catch {
          // already closed
        }
      }
    }, () => {});
  });
}

function handshakeError(e: unknown, target: string): CollectorError {
  if (e instanceof CollectorError) return e;
  const msg = errorMessage(e);
  if (/timed out/.test(msg)) {
    return new CollectorError("OUTPUT_CONNECT", `Connecting to ${target} timed out: ${msg}`, {
      cause: e,
      context: { target },
    });
  }
  if (/received fatal alert/i.test(msg) && CERT_ALERT.test(msg)) {
    return new CollectorError(
      "OUTPUT_CERT_REJECTED",
      `${target} rejected the client certificate in cert during the handshake: ${msg}`,
      { cause: e, context: { target } },
    );
  }
  return classifyConnError(e, target, "connect");
}
