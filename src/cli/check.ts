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
import { EXIT } from "./exit_codes.ts";
import { parseCommand, usageError } from "./usage.ts";
import { dirname, join, resolve } from "node:path";
import { createClients } from "../aws/clients.ts";
import type { AwsClients } from "../aws/clients.ts";
import { probeBucket, probeIdentities, probeQueue } from "../aws/probe.ts";
import type { ProbeOptions } from "../aws/probe.ts";
import { readConfigText, validateConfig } from "../config/load.ts";
import type { LoadOptions } from "../config/load.ts";
import type { Config, InputConfig, OutputConfig } from "../config/types.ts";
import { CollectorError, errorMessage } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { widenedTrustError } from "../output/connectors.ts";
import { probeTcp, probeTls } from "../output/probe.ts";
import type { TrustWidening } from "../output/tls_trust.ts";
import { devoTrustWidenings } from "./outputs.ts";
import { expiringCertificates } from "../output/cert_expiry.ts";
import { startupWarnings } from "../config/warnings.ts";
import { parseListen } from "../telemetry/server.ts";
import { probeStateDir } from "../state/atomic.ts";
import { prePullStarted } from "../state/backfill_job.ts";

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
  const parsed = parseCommand("check", args, {
    config: { type: "string", short: "c" },
    json: { type: "boolean", default: false },
  });
  if (parsed === undefined) return EXIT.ok;
  const { values } = parsed;
  if (typeof values.config !== "string") throw usageError("check", "check needs --config FILE");
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
    ok: exit === EXIT.ok,
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
      return report(EXIT.config);
    }
    config = result.config!;
  } catch (e) {
    push(failed("configuration", e));
    return report(EXIT.config);
  }
  secrets = secretValues(config);
  push({
    check: "configuration",
    status: "ok",
    detail: `${resolve(path)} is valid: ${count(config.inputs.length, "enabled input")}, ${
      count(config.outputs.length, "output")
    }`,
  });

  for (const w of startupWarnings(config)) {
    push({ check: w.setting, status: "warning", detail: w.text });
  }
  if (config.globals.metrics.listen) push(checkMetricsListen(config.globals.metrics.listen));
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
      ? EXIT.ok
      : failures.some((l) => l.error?.family === "SetupError")
      ? EXIT.config
      : EXIT.unavailable,
  );
}

/** The metrics endpoint's address is free to listen on, as `run` needs at start-up. */
function checkMetricsListen(listen: string): CheckLine {
  const check = "globals.metrics.listen";
  try {
    const l = Deno.listen(parseListen(listen));
    l.close();
    return { check, status: "ok", detail: `${listen} is free to listen on` };
  } catch (e) {
    return failed(
      check,
      new CollectorError(
        "METRICS_LISTEN",
        `globals.metrics.listen ${listen} cannot be listened on: ${errorMessage(e)}`,
        { cause: e },
      ),
    );
  }
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
  let clients: AwsClients | undefined;
  try {
    clients = createClients(input);
    await probeLines(input, clients, {
      timeoutMs: options.awsTimeoutMs ?? 20_000,
      signal: options.signal,
    }, push);
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

/** The credentials, queue and bucket lines of one input. */
async function probeLines(
  input: InputConfig,
  clients: AwsClients,
  o: ProbeOptions,
  push: (line: CheckLine) => void,
): Promise<void> {
  const name = `inputs.${input.name}`;
  let credsOk = true;
  for (const p of await probeIdentities(input, clients, o)) {
    const check = `${name} credentials${p.side}`;
    if (p.error) {
      credsOk = false;
      push(failed(check, p.error));
    } else push({ check, status: "ok", detail: p.detail! });
  }
  if (!credsOk) {
    const why = "not checked: the AWS credentials failed";
    push({ check: `${name} queue`, status: "skipped", detail: why });
    push({ check: `${name} bucket`, status: "skipped", detail: why });
    return;
  }
  const line = async (check: string, probe: () => Promise<string>): Promise<CheckLine> => {
    try {
      return { check, status: "ok", detail: await probe() };
    } catch (e) {
      return failed(check, e);
    }
  };
  push(await line(`${name} queue`, () => probeQueue(input, clients, o)));
  const bucket = input.bucket;
  push(
    bucket === undefined
      ? {
        check: `${name} bucket`,
        status: "skipped",
        detail: "not checked: set bucket to the lake bucket to check it",
      }
      : await line(`${name} bucket`, () => probeBucket({ ...input, bucket }, clients, o)),
  );
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
