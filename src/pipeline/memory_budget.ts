/**
 * The memory budget: the limit in force ({@link memoryLimitInForce}: `globals.memory_limit`, else
 * the memory limit of the cgroup the process runs in less headroom, else none) and what the
 * collector may hold within it ({@link budgetPlan}: decode workers, read-ahead, the lines a
 * worker decodes ahead, the size of a row group's single read, the output's batches in flight,
 * and the most one row group may need). The plan gives up speed before memory: it lowers the
 * read-ahead and the lines ahead first, then the decode workers, then the batches in flight and
 * their size (halving the batch doubles the connections, which costs more than a worker), and a
 * row group that cannot fit even decoded alone is refused (`DataError` 613) rather than the
 * process being killed for running out of memory. Under a budget the read-ahead never exceeds its
 * bytes (a larger row group is read when a worker reaches it), and a row group that needs a
 * quarter of the room for one row group has its compressed bytes and inflated pages freed as
 * soon as it is decoded rather than at the next full garbage collection (`freeBuffersFrom`: less
 * memory for some decoding CPU).
 *
 * The cgroup files are read under a root that tests point elsewhere with the environment
 * variable `SECLAKE_CGROUP_ROOT` (a directory holding `proc/self/cgroup` and `sys/fs/cgroup/...`
 * as a Linux machine has them); it is meant for tests only.
 * @module
 */

const MiB = 1024 * 1024;

/**
 * What the process holds before it reads any object: the runtime, the main isolate's heap, the
 * AWS SDK and the TLS stacks (measured: 136 MiB of peak RSS for a collector run on a 20-row
 * object with its two decode workers started, each of which is {@link WORKER_BYTES} or less).
 */
export const BASE_BYTES = 96 * MiB;
/** What one decode worker costs before it holds a row group: its isolate and heap. */
export const WORKER_BYTES = 40 * MiB;
/**
 * Memory set aside for the row group each decoding thread holds when the plan chooses how many
 * threads decode: a 131,072-row CloudTrail row group declares about 50 MiB (compressed read plus
 * pages inflated), and its thread's heap grows beyond that while it is decoded (measured: peak
 * RSS 243 to 251 MiB under a 256 MiB plan that set 48 MiB aside).
 */
export const ROW_GROUP_RESERVE_BYTES = 64 * MiB;

/** The settings a plan starts from: what the configuration asks for. */
export interface BudgetSettings {
  /** Decode workers asked for (`decode_threads`, already capped at the CPUs); 0: main thread. */
  readonly decodeThreads: number;
  /** Each output's batch size and batches in flight (and its parallel connections). */
  readonly outputs: readonly {
    readonly maxBatchBytes: number;
    readonly batchesInFlight: 1 | 2;
    readonly senders: number;
  }[];
}

/** What the collector may hold: the knobs {@link budgetPlan} sets. */
export interface BudgetKnobs {
  /** The limit planned for; undefined: no budget (the defaults, as without one). */
  readonly limitBytes?: number;
  /** Decode workers (0: the main thread decodes). */
  readonly decodeThreads: number;
  /** Bytes of lines a worker may decode ahead of what the output took. */
  readonly aheadBytes: number;
  /** Bytes of row groups read ahead of the workers. */
  readonly readAheadBytes: number;
  /**
   * A row group of at most this many compressed bytes is read in one request; a larger one
   * column chunk by column chunk, in windows, as the rows reach them.
   */
  readonly groupReadBytes: number;
  /** Most batches each output has in flight (at most what it is configured with). */
  readonly batchesInFlight: 1 | 2;
  /** Largest batch of each output (at most what it is configured with). */
  readonly maxBatchBytes: number;
  /**
   * Most bytes one row group may need to decode (its compressed plus uncompressed bytes): what
   * the budget leaves when nothing else is decoded. Undefined without a budget.
   */
  readonly rowGroupBytes?: number;
  /**
   * Most objects read at once, when the plan limits them: decoded on the main thread, each
   * object in flight holds a row group, so the plan without workers reads one at a time.
   * Undefined: as configured (with workers, objects wait for a free one).
   */
  readonly maxConcurrentObjects?: number;
  /** What the plan expects the collector to hold at most, row groups included. */
  readonly plannedBytes: number;
}

/** The defaults of the decode pool and the readers (as `parquet/` has them without a budget). */
const DEFAULTS = { aheadBytes: 16 * MiB, readAheadBytes: 8 * MiB, groupReadBytes: 16 * MiB };

/** The steps a plan takes down, from the configured settings to the least memory. */
const STEPS: readonly {
  threads: "asked" | 1 | 0;
  aheadBytes: number;
  readAheadBytes: number;
  groupReadBytes: number;
  batchesInFlight: 1 | 2;
  maxBatchBytes: number;
}[] = [
  { threads: "asked", ...DEFAULTS, batchesInFlight: 2, maxBatchBytes: Infinity },
  {
    threads: "asked",
    aheadBytes: 8 * MiB,
    readAheadBytes: 4 * MiB,
    groupReadBytes: 16 * MiB,
    batchesInFlight: 2,
    maxBatchBytes: 8 * MiB,
  },
  // One worker before one batch in flight: waiting for each batch's confirmation before the next
  // costs more speed than the second worker.
  {
    threads: 1,
    aheadBytes: 4 * MiB,
    readAheadBytes: 2 * MiB,
    groupReadBytes: 16 * MiB,
    batchesInFlight: 2,
    maxBatchBytes: 8 * MiB,
  },
  {
    threads: 1,
    aheadBytes: 4 * MiB,
    readAheadBytes: 2 * MiB,
    groupReadBytes: 4 * MiB,
    batchesInFlight: 1,
    maxBatchBytes: 2 * MiB,
  },
  {
    threads: 0,
    aheadBytes: 1 * MiB,
    readAheadBytes: 1 * MiB,
    groupReadBytes: 1 * MiB,
    batchesInFlight: 1,
    maxBatchBytes: 1 * MiB,
  },
];

/** Bytes the outputs hold with `batch` bytes per batch and `inFlight` batches. */
function outputBytes(settings: BudgetSettings, batch: number, inFlight: 1 | 2): number {
  let sum = 0;
  for (const o of settings.outputs) {
    const b = Math.min(o.maxBatchBytes, batch);
    const n = Math.min(o.batchesInFlight, inFlight);
    // A batch's lines are held until confirmed, and written through TLS buffers once more.
    sum += 2 * b * n * Math.max(1, o.senders);
  }
  return sum;
}

/**
 * The knobs for a memory limit of `limitBytes` (undefined: no limit, the defaults) and the
 * configured `settings`: the first of a series of ever smaller steps whose expected peak fits
 * (see the module); the smallest when none does. Pure: the same arguments give the same plan.
 */
export function budgetPlan(limitBytes: number | undefined, settings: BudgetSettings): BudgetKnobs {
  const asked = Math.max(0, Math.floor(settings.decodeThreads));
  const configuredInFlight: 1 | 2 = settings.outputs.some((o) => o.batchesInFlight === 2) ? 2 : 1;
  const configuredBatch = Math.max(0, ...settings.outputs.map((o) => o.maxBatchBytes));
  const cost = (s: typeof STEPS[number]) => {
    const threads = s.threads === "asked" ? asked : Math.min(asked, s.threads);
    const decoding = Math.max(1, threads);
    return {
      threads,
      bytes: BASE_BYTES + threads * (WORKER_BYTES + s.aheadBytes) +
        (threads > 0 ? s.readAheadBytes : 0) + decoding * ROW_GROUP_RESERVE_BYTES +
        outputBytes(settings, s.maxBatchBytes, s.batchesInFlight),
    };
  };
  if (limitBytes === undefined) {
    const first = STEPS[0]!;
    return {
      decodeThreads: asked,
      aheadBytes: first.aheadBytes,
      readAheadBytes: first.readAheadBytes,
      groupReadBytes: first.groupReadBytes,
      batchesInFlight: configuredInFlight,
      maxBatchBytes: configuredBatch,
      plannedBytes: cost(first).bytes,
    };
  }
  let chosen = STEPS[STEPS.length - 1]!;
  for (const s of STEPS) {
    if (cost(s).bytes <= limitBytes) {
      chosen = s;
      break;
    }
  }
  const { threads, bytes } = cost(chosen);
  const least = STEPS[STEPS.length - 1]!;
  // Decoded alone: the main thread's base and the smallest output, nothing else.
  const alone = limitBytes - BASE_BYTES -
    outputBytes(settings, least.maxBatchBytes, least.batchesInFlight);
  return {
    limitBytes,
    decodeThreads: threads,
    aheadBytes: chosen.aheadBytes,
    readAheadBytes: chosen.readAheadBytes,
    groupReadBytes: chosen.groupReadBytes,
    batchesInFlight: Math.min(configuredInFlight, chosen.batchesInFlight) as 1 | 2,
    maxBatchBytes: Math.min(configuredBatch, chosen.maxBatchBytes),
    rowGroupBytes: Math.max(0, alone),
    ...(threads === 0 ? { maxConcurrentObjects: 1 } : {}),
    plannedBytes: bytes,
  };
}

/** Where the memory limit in force comes from. */
export type MemoryLimitSource = "setting" | "cgroup" | "none";

/** The memory limit in force and where it comes from. */
export interface MemoryLimit {
  /** Bytes; undefined: no limit. */
  readonly bytes?: number;
  readonly source: MemoryLimitSource;
  /** The cgroup's own limit, when one was found (before headroom). */
  readonly cgroupBytes?: number;
}

/** Headroom left under a cgroup limit: a tenth of it, at least 32 MiB. */
export function cgroupHeadroom(cgroupBytes: number): number {
  return Math.max(32 * MiB, Math.floor(cgroupBytes / 10));
}

/** A cgroup v1 limit at or above this means none (the kernel writes ~2^63 rounded to pages). */
const V1_UNLIMITED = 2 ** 62;

/** Options for {@link cgroupMemoryLimit}. */
export interface CgroupOptions {
  /**
   * The file system root the cgroup files are read under. Default: `SECLAKE_CGROUP_ROOT` when
   * set (tests), else `/`.
   */
  root?: string;
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/** `/a/b/c` and its ancestors, `/a/b`, `/a`, `/`. */
function ancestry(path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "" && p !== "." && p !== "..");
  const out: string[] = [];
  for (let i = parts.length; i >= 0; i--) out.push("/" + parts.slice(0, i).join("/"));
  return out;
}

/**
 * The memory limit of the cgroup this process runs in, in bytes, or undefined when there is
 * none (no cgroup files, `max`, or an unlimited v1 value). cgroup v2: `memory.max` of the
 * process's group (from `/proc/self/cgroup`, line `0::PATH`) and of its ancestors, the smallest
 * that is set; cgroup v1: `memory.limit_in_bytes` of the `memory` controller's group the same
 * way. Inside a container the group's path may not exist in its own view of the hierarchy: the
 * files at the hierarchy's top are then the container's.
 */
export function cgroupMemoryLimit(options: CgroupOptions = {}): number | undefined {
  const root = (options.root ?? envRoot() ?? "/").replace(/\/+$/, "");
  const self = readText(`${root}/proc/self/cgroup`);
  if (self === undefined) return undefined;
  let v2Path: string | undefined;
  let v1Path: string | undefined;
  for (const line of self.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === "0" && m[2] === "") v2Path = m[3]!;
    else if (m[2]!.split(",").includes("memory")) v1Path = m[3]!;
  }
  const smallest = (dir: string, file: string, path: string, unlimited: (v: number) => boolean) => {
    let best: number | undefined;
    for (const p of ancestry(path)) {
      const text = readText(`${dir}${p === "/" ? "" : p}/${file}`)?.trim();
      if (text === undefined || text === "" || text === "max") continue;
      const v = Number(text);
      if (!Number.isFinite(v) || v <= 0 || unlimited(v)) continue;
      best = best === undefined ? v : Math.min(best, v);
    }
    return best;
  };
  if (v1Path !== undefined) {
    const v = smallest(
      `${root}/sys/fs/cgroup/memory`,
      "memory.limit_in_bytes",
      v1Path,
      (v) => v >= V1_UNLIMITED,
    );
    if (v !== undefined) return v;
  }
  if (v2Path !== undefined) {
    return smallest(`${root}/sys/fs/cgroup`, "memory.max", v2Path, () => false);
  }
  return undefined;
}

function envRoot(): string | undefined {
  try {
    return Deno.env.get("SECLAKE_CGROUP_ROOT") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The limit in force: `configured` (`globals.memory_limit`; 0 means no limit) when set, else
 * the cgroup's limit less {@link cgroupHeadroom}, else none.
 */
export function memoryLimitInForce(
  configured: number | undefined,
  options: CgroupOptions = {},
): MemoryLimit {
  const cgroup = cgroupMemoryLimit(options);
  const withCgroup = cgroup === undefined ? {} : { cgroupBytes: cgroup };
  if (configured !== undefined) {
    return configured > 0
      ? { bytes: configured, source: "setting", ...withCgroup }
      : { source: "setting", ...withCgroup };
  }
  if (cgroup !== undefined) {
    return {
      bytes: Math.max(0, cgroup - cgroupHeadroom(cgroup)),
      source: "cgroup",
      cgroupBytes: cgroup,
    };
  }
  return { source: "none" };
}
