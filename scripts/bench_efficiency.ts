/**
 * The benchmark's CPU and efficiency figures (`scripts/bench.ts`): CPU seconds per million events
 * of the collector and of DuckDB, each marginal (a run less a run on a tiny file of the same
 * shape, so start-up is not counted), their ratio, the rate with obfuscation rules and with a
 * memory limit relative to the rate without, and where the collector's CPU goes, from V8's
 * sampling profiler (`--cpu-prof`: one profile per isolate, the main thread's and each decode
 * worker's), summed by category.
 * @module
 */
import { join } from "node:path";
import { profileCategorizer } from "./bench_profile.ts";
import type { CallFrame, CpuProfile } from "./bench_profile.ts";

/** What the efficiency figures need of one pipeline run. */
export interface CpuRun {
  ok: boolean;
  /** Wall seconds to the last confirmation. */
  seconds: number;
  /** User + system CPU seconds of the collector process. */
  cpu: { collector: number };
  peakRssBytes: number;
}

/** What the efficiency figures need of one DuckDB run. */
export interface DuckCpuRun {
  seconds: number;
  cpuSeconds?: number;
}

/** The efficiency measurements of one file. */
export interface EfficiencyResult {
  label: string;
  rows: number;
  /** Rows of the tiny file whose run is subtracted. */
  baselineRows?: number;
  pipeline?: CpuRun;
  baselinePipeline?: CpuRun;
  duckdb?: DuckCpuRun;
  baselineDuckdb?: DuckCpuRun;
  /** The pipeline with the obfuscation rules of {@link OBFUSCATION_RULES}. */
  obfuscated?: CpuRun;
  /** The pipeline with `globals.memory_limit`. */
  limited?: CpuRun;
  /** The same with a slow or absent receiver (`--slow-output`). */
  limitedSlow?: CpuRun;
  /** The `memory_limit` of `limited`, as written. */
  memoryLimit?: string;
}

/**
 * The obfuscation rules the target is set with, in YAML flow style: one path hashed, one IPv4
 * string pattern masked (in every string of every event).
 */
export const OBFUSCATION_RULES = "[{ paths: [actor.user.name], method: hash, " +
  "hash_key: bench-hash-key-0123456789 }, " +
  "{ string_patterns: ['\\b\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\b'], method: mask }]";

const MiB = 1024 * 1024;
/** Efficiency target: DuckDB's CPU per event ÷ the collector's. */
export const EFFICIENCY_TARGET = 0.5;
/** The files the targets are set on (their labels start so): CloudTrail-like, ZSTD. */
export const TARGET_FILES = "cloudtrail zstd";
/** Rate with obfuscation rules ÷ rate without. */
export const OBFUSCATION_TARGET = 0.8;
/** Peak RSS with a 256 MiB memory limit, and its rate ÷ the rate without a limit. */
export const LIMITED_RSS_TARGET = 256 * MiB;
export const LIMITED_RATE_TARGET = 0.7;

/**
 * Marginal CPU seconds per million events: (CPU of the run − CPU of the tiny run) ÷ (rows −
 * tiny rows) × 10^6; undefined without both runs or when the difference is not positive.
 */
export function marginalCpuPerMillion(
  cpu: number | undefined,
  rows: number,
  baseCpu: number | undefined,
  baseRows: number | undefined,
): number | undefined {
  if (cpu === undefined || baseCpu === undefined || baseRows === undefined) return undefined;
  const dRows = rows - baseRows;
  const dCpu = cpu - baseCpu;
  if (!(dRows > 0 && dCpu > 0)) return undefined;
  return dCpu / dRows * 1e6;
}

/** The collector's and DuckDB's marginal CPU per million events of `r`, and their ratio. */
export function efficiencyOf(r: EfficiencyResult): {
  collector?: number;
  duckdb?: number;
  efficiency?: number;
} {
  const collector = r.pipeline?.ok && r.baselinePipeline?.ok
    ? marginalCpuPerMillion(
      r.pipeline.cpu.collector,
      r.rows,
      r.baselinePipeline.cpu.collector,
      r.baselineRows,
    )
    : undefined;
  const duckdb = marginalCpuPerMillion(
    r.duckdb?.cpuSeconds,
    r.rows,
    r.baselineDuckdb?.cpuSeconds,
    r.baselineRows,
  );
  return {
    collector,
    duckdb,
    efficiency: collector !== undefined && duckdb !== undefined ? duckdb / collector : undefined,
  };
}

function rateOf(rows: number, run: CpuRun | undefined): number | undefined {
  return run?.ok ? rows / run.seconds : undefined;
}

const fmt = (n: number | undefined, digits = 1) => n === undefined ? "–" : n.toFixed(digits);
const times = (n: number | undefined) => n === undefined ? "–" : `${n.toFixed(2)}×`;
const kRate = (n: number | undefined) => n === undefined ? "–" : `${Math.round(n / 1000)}k`;

/** The efficiency table: one row per file. */
export function efficiencyTable(results: EfficiencyResult[]): string {
  const head = [
    "file",
    "collector CPU-s / M events",
    "DuckDB CPU-s / M rows",
    "efficiency (DuckDB ÷ collector)",
    "wall rate ev/s",
    "DuckDB wall rows/s",
    "rate with obfuscation ÷ without",
    "memory-limit peak RSS MiB",
    "rate with memory limit ÷ without",
  ];
  const rows = results.map((r) => {
    const e = efficiencyOf(r);
    const rate = rateOf(r.rows, r.pipeline);
    return [
      r.label,
      fmt(e.collector),
      fmt(e.duckdb),
      times(e.efficiency),
      kRate(rate),
      kRate(r.duckdb ? r.rows / r.duckdb.seconds : undefined),
      times(ratio(rateOf(r.rows, r.obfuscated), rate)),
      r.limited?.ok ? String(Math.round(r.limited.peakRssBytes / MiB)) : r.limited ? "failed" : "–",
      times(ratio(rateOf(r.rows, r.limited), rate)),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join(
      " | ",
    ) + " |";
  const baseline = results.find((r) => r.baselineRows !== undefined)?.baselineRows;
  return [
    line(head),
    "|" + widths.map((w, i) => "-".repeat(w + 1) + (i === 0 ? "-" : ":")).join("|") + "|",
    ...rows.map(line),
  ].join("\n") +
    `\n\nCPU is user + system seconds of the whole process (the collector's decode workers are ` +
    `threads of it; DuckDB runs one thread, Parquet → JSON), marginal: the run less a run on a ` +
    `${baseline ?? "?"}-row file of the same shape, per million events. Rates are wall time, ` +
    `whole collector through moto and the TLS receiver, which share the CPUs with it.`;
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

/**
 * One line per efficiency target: met, not met, or not measured (and how to measure it). The
 * targets are set on the CloudTrail-like ZSTD files (labels `cloudtrail zstd …`); the ratios of
 * other files are given after them, for reference.
 */
export function efficiencyTargets(results: EfficiencyResult[]): string[] {
  const targeted = results.filter((r) => r.label.startsWith(TARGET_FILES));
  const each = <T>(
    pick: (r: EfficiencyResult) => T | undefined,
    of = targeted,
  ): { label: string; v: T }[] =>
    of.flatMap((r) => {
      const v = pick(r);
      return v === undefined ? [] : [{ label: r.label, v }];
    });
  const verdict = (ok: boolean) => ok ? "met" : "NOT met";
  /** The ratios `pick` gives the other files, as a note after a target's own. */
  const reference = (pick: (r: EfficiencyResult) => number | undefined) => {
    const others = each(pick, results.filter((r) => !r.label.startsWith(TARGET_FILES)));
    return others.length === 0
      ? ""
      : `; other files, for reference: ${
        others.map((o) => `${o.label} ${o.v.toFixed(2)}×`).join(", ")
      }`;
  };
  const notOn = (what: string) =>
    targeted.length === 0
      ? "not measured: no CloudTrail-like ZSTD file (--row-groups makes them)"
      : `not measured (${what})`;

  const effOf = (r: EfficiencyResult) => efficiencyOf(r).efficiency;
  const eff = each(effOf);
  const effLine = eff.length === 0
    ? notOn("needs the pipeline, DuckDB and their runs on a tiny file: --baseline-rows")
    : `${verdict(eff.every((e) => e.v >= EFFICIENCY_TARGET))} (${
      eff.map((e) => `${e.label} ${e.v.toFixed(2)}×`).join(", ")
    }${reference(effOf)})`;

  const obfOf = (r: EfficiencyResult) =>
    ratio(rateOf(r.rows, r.obfuscated), rateOf(r.rows, r.pipeline));
  const obf = each(obfOf);
  const obfLine = obf.length === 0
    ? notOn("run with --obfuscation-ratio")
    : `${verdict(obf.every((o) => o.v >= OBFUSCATION_TARGET))} (${
      obf.map((o) => `${o.label} ${o.v.toFixed(2)}×`).join(", ")
    }${reference(obfOf)})`;

  const lim = each((r) =>
    r.limited?.ok && r.pipeline?.ok
      ? {
        rss: r.limited.peakRssBytes,
        x: r.limited.peakRssBytes > 0
          ? rateOf(r.rows, r.limited)! / rateOf(r.rows, r.pipeline)!
          : 0,
        limit: r.memoryLimit,
      }
      : undefined
  );
  const limFailed = targeted.flatMap((r) => [
    ...(r.limited && !r.limited.ok ? [r.label] : []),
    ...(r.limitedSlow && !r.limitedSlow.ok ? [`${r.label} (slow output)`] : []),
  ]);
  const slow = targeted.filter((r) => r.limitedSlow?.ok);
  const slowOk = slow.every((r) => r.limitedSlow!.peakRssBytes <= LIMITED_RSS_TARGET);
  const slowNote = slow.length === 0
    ? "; with slow output: not measured (--slow-output)"
    : `; with slow output: peak ${
      slow.map((r) => `${r.label} ${Math.round(r.limitedSlow!.peakRssBytes / MiB)} MiB`).join(", ")
    }`;
  const limLine = limFailed.length > 0
    ? `NOT met: the run with a memory limit failed on ${limFailed.join(", ")}`
    : lim.length === 0
    ? notOn("run with --memory-limit 256MiB")
    : `${
      verdict(
        slowOk &&
          lim.every((l) => l.v.rss <= LIMITED_RSS_TARGET && l.v.x >= LIMITED_RATE_TARGET),
      )
    } (memory_limit ${lim[0]!.v.limit}: ${
      lim.map((l) => `${l.label} peak ${Math.round(l.v.rss / MiB)} MiB at ${l.v.x.toFixed(2)}×`)
        .join(", ")
    }${slowNote})`;
  return [
    `Target: efficiency (DuckDB CPU ÷ collector CPU per event) ≥ ${EFFICIENCY_TARGET}× on CloudTrail-like ZSTD: ${effLine}.`,
    `Target: rate with obfuscation rules (one path hashed, one IPv4 pattern masked) ≥ ${OBFUSCATION_TARGET}× the rate without: ${obfLine}.`,
    `Target: with memory_limit 256MiB, peak RSS ≤ 256 MiB at ≥ ${LIMITED_RATE_TARGET}× the rate without a limit: ${limLine}.`,
  ];
}

// ---------------------------------------------------------------------------------------------
// Where the CPU goes: V8 CPU profiles, summed by category
// ---------------------------------------------------------------------------------------------

/** The categories of the breakdown, by the file a frame belongs to; the first that matches. */
const CATEGORIES: [RegExp, string][] = [
  [
    /\/fzstd\/|hyparquet-compressors|hysnappy|snappy\.js|src\/parquet\/(inflate|shared_pages)\.ts/,
    "decompress",
  ],
  [
    /\/hyparquet\/|src\/parquet\/(column_cursor|column_pieces|data_page|hybrid|page_values|page_header|read_guard|limits|limit_error|hyparquet|reader)\.ts/,
    "decode (pages, levels, values)",
  ],
  [
    /src\/parquet\/(json_plan|json_bytes|json_reader|dictionary_json|event_json|shape|event_objects)\.ts|src\/transform\/(json|values|line|truncate)\.ts/,
    "JSON (event text)",
  ],
  [
    /src\/transform\/(obfuscate|sha256)|src\/parquet\/(obfuscated_lines|obfuscated_plan|obfuscating_writer|pattern_filter)|src\/linear_regex/,
    "obfuscation",
  ],
  [
    /src\/parquet\/(parallel_lines|lanes|lines_worker|worker_wire|decode_pool|footer_cache)\.ts/,
    "copies between isolates (postMessage, merge)",
  ],
  [/src\/output\/|ext:deno_net|ext:deno_tls|_tls_|tls_wrap/, "TLS and output"],
  [/@aws-sdk|@smithy|@aws-crypto|src\/aws\//, "AWS SDK and S3 reads"],
  [
    /src\/(pipeline|state|telemetry|source|cli|config)\/|@logtape|\/yaml\//,
    "pipeline, state, telemetry",
  ],
];

/** The category of `frame`, or undefined for a builtin (charged to its caller). */
function categoryOf(frame: CallFrame): string | undefined {
  const fn = frame.functionName;
  if (fn === "(garbage collector)") return "GC";
  // A new worker waiting for an inspector (the profiler's) is not on a CPU.
  if (fn === "(idle)" || fn === "op_worker_maybe_wait_for_debugger") return "(idle)";
  if (fn === "(program)") return "runtime outside JavaScript (event loop, I/O, TLS crypto)";
  if (
    fn === "postMessage" || fn === "structuredClone" || fn === "onmessage" ||
    /ext:deno_web\/13_message_port|ext:runtime\/11_workers/.test(frame.url)
  ) {
    return "copies between isolates (postMessage, merge)";
  }
  if (!frame.url || /^(ext|node):/.test(frame.url)) {
    // Deno's own sockets and TLS are named by their module; other builtins go to the caller.
    for (const [re, name] of CATEGORIES) if (frame.url && re.test(frame.url)) return name;
    return undefined;
  }
  for (const [re, name] of CATEGORIES) if (re.test(frame.url)) return name;
  return "other JavaScript";
}

/** The categories whose functions {@link profileTable} lists: no module names them. */
const UNNAMED = new Set(["builtins without a JavaScript caller", "other JavaScript"]);

/**
 * Microseconds per category of one profile (idle excluded); `unnamed` gets the microseconds of
 * each function of the categories no module names, to show what they are.
 */
export function profileCategories(
  profile: CpuProfile,
  unnamed?: Map<string, number>,
): Map<string, number> {
  const { byId, resolve } = profileCategorizer(
    profile,
    categoryOf,
    "builtins without a JavaScript caller",
  );
  const out = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    const cat = resolve(profile.samples[i]!);
    if (cat === "(idle)") continue;
    out.set(cat, (out.get(cat) ?? 0) + us);
    if (unnamed && UNNAMED.has(cat)) {
      const f = byId.get(profile.samples[i]!)!.callFrame;
      const key = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\//, "")}`;
      unnamed.set(key, (unnamed.get(key) ?? 0) + us);
    }
  }
  return out;
}

/**
 * The category table of every `.cpuprofile` in `dir` (the collector's main thread and each
 * worker), with seconds per category for the main thread, the workers and both, and the
 * process's CPU seconds for comparison.
 */
export async function profileTable(
  dir: string,
  label: string,
  processCpu: number | undefined,
): Promise<string> {
  const main = new Map<string, number>();
  const workers = new Map<string, number>();
  const unnamed = new Map<string, number>();
  let profiles = 0;
  let unreadable = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".cpuprofile")) continue;
    let p: CpuProfile;
    try {
      p = JSON.parse(await Deno.readTextFile(join(dir, e.name))) as CpuProfile;
    } catch {
      // A worker ended (its isolate torn down at exit) while its profile was being written.
      unreadable++;
      continue;
    }
    profiles++;
    const into = e.name.includes(".worker-") ? workers : main;
    for (const [cat, us] of profileCategories(p, unnamed)) {
      into.set(cat, (into.get(cat) ?? 0) + us);
    }
  }
  const cats = new Set([...main.keys(), ...workers.keys()]);
  const total = [...cats].reduce((t, c) => t + (main.get(c) ?? 0) + (workers.get(c) ?? 0), 0);
  const rows = [...cats].map((c) => ({
    c,
    m: main.get(c) ?? 0,
    w: workers.get(c) ?? 0,
  })).sort((a, b) => b.m + b.w - a.m - a.w);
  const s = (us: number) => (us / 1e6).toFixed(2);
  const lines = [
    `Where the collector's CPU goes, ${label} (${profiles} profiles: the main thread and each decode worker; V8 samples, idle excluded; a builtin counts for the code that called it${
      unreadable ? `; ${unreadable} profile left unfinished at exit, not counted` : ""
    }):`,
    "",
    "| category | main s | workers s | total s | share |",
    "|---|---:|---:|---:|---:|",
    ...rows.map((r) =>
      `| ${r.c} | ${s(r.m)} | ${s(r.w)} | ${s(r.m + r.w)} | ${
        (100 * (r.m + r.w) / (total || 1)).toFixed(1)
      }% |`
    ),
    `| all sampled | ${s([...main.values()].reduce((a, b) => a + b, 0))} | ${
      s([...workers.values()].reduce((a, b) => a + b, 0))
    } | ${s(total)} | 100% |`,
    "",
    `Largest functions of no named module: ${
      [...unnamed].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([f, us]) => `${f} ${s(us)} s`)
        .join("; ") || "none"
    }.`,
    `Process CPU (user + system) of the profiled run: ${
      processCpu?.toFixed(2) ?? "?"
    } s; the profiler itself adds some.`,
  ];
  return lines.join("\n");
}
