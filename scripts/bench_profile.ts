/**
 * Profiles the decode path and says where the time goes: runs `scripts/bench_decode.ts` under
 * `deno run --cpu-prof` (V8's sampling profiler) and sums the samples by stage of the path.
 *
 * Each sample is charged to the innermost frame that belongs to a known file (so the time of a
 * V8 builtin such as `JSON.stringify` or `String.fromCharCode` goes to the code that called
 * it), and that file names the stage:
 *
 * | stage | files |
 * |---|---|
 * | zstd / gzip / snappy decompress | `fzstd`, `hyparquet-compressors` gzip, `hysnappy` |
 * | hyparquet page decode | `column.js`, `datapage.js`, `encoding.js`, `plain.js`, ... |
 * | hyparquet assembly | `assemble.js`, `rowgroup.js`, `read.js`, `utils.js` (rows out of columns) |
 * | hyparquet other | metadata, plan, thrift |
 * | fast path: JSON from column data | `src/parquet/json_reader.ts`, `json_bytes.ts` |
 * | shape conversion | `src/parquet/shape.ts`, `src/transform/values.ts`, `src/parquet/reader.ts` |
 * | toJson | `src/transform/json.ts` |
 * | line + encode | `src/transform/line.ts`, the bench's own loop (`TextEncoder`, string concatenation) |
 * | GC | `(garbage collector)` |
 *
 * ```sh
 * deno run -A scripts/bench_profile.ts FILE [--stage fast|lines|...] [--top 25] [--keep DIR]
 * ```
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";

/** Where a profile node's function is. */
export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber?: number;
}
/** One node of a profile's call tree. */
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
/** A `.cpuprofile` as V8 writes it. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime?: number;
  endTime?: number;
}

/**
 * The nodes of `profile` by id, and the category of a node: that of the nearest frame from it up
 * the call tree that `categoryOf` names, else `fallback`.
 */
export function profileCategorizer(
  profile: CpuProfile,
  categoryOf: (frame: CallFrame) => string | undefined,
  fallback: string,
): { byId: Map<number, ProfileNode>; resolve: (id: number) => string } {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const cache = new Map<number, string>();
  const resolve = (id: number): string => {
    const hit = cache.get(id);
    if (hit) return hit;
    let cur: number | undefined = id;
    let cat: string | undefined;
    while (cur !== undefined && cat === undefined) {
      cat = categoryOf(byId.get(cur)!.callFrame);
      cur = parent.get(cur);
    }
    const out = cat ?? fallback;
    cache.set(id, out);
    return out;
  };
  return { byId, resolve };
}

const RULES: [RegExp, string][] = [
  [/\/fzstd\//, "zstd decompress"],
  [/hyparquet-compressors\/[^/]+\/src\/gzip/, "gzip decompress"],
  [/hysnappy|snappy\.js/, "snappy decompress"],
  [/hyparquet\/[^/]+\/src\/(assemble|rowgroup|read|utils)\.js/, "hyparquet assembly"],
  [
    /hyparquet\/[^/]+\/src\/(column|datapage|encoding|plain|delta|convert|alp|bloom)\.js/,
    "hyparquet page decode",
  ],
  [/hyparquet\//, "hyparquet other (metadata, plan, thrift)"],
  [/src\/parquet\/(json_reader|json_bytes)\.ts/, "fast path: JSON from column data"],
  [/src\/parquet\/limits\.ts/, "read guards (limits)"],
  [/src\/(parquet\/shape|transform\/values|parquet\/reader)\.ts/, "shape conversion"],
  [/src\/transform\/json\.ts/, "toJson"],
  [/src\/transform\/line\.ts|scripts\/bench_decode\.ts/, "line + encode"],
  [/scripts\/bench_fused\.ts/, "fused serializer (prototype)"],
  [/src\/output\/|src\/pipeline\//, "output + pipeline"],
  [/@aws-sdk|@smithy/, "AWS SDK"],
];

function categoryOf(frame: CallFrame): string | undefined {
  if (frame.functionName === "(garbage collector)") return "GC";
  if (frame.functionName === "(idle)") return "idle (waiting for reads)";
  if (frame.functionName === "(program)") return "program (V8/runtime)";
  // Builtins and Deno's own JavaScript (TextEncoder, TextDecoder) count for their caller.
  if (!frame.url || /^(ext|node):/.test(frame.url)) return undefined;
  for (const [re, name] of RULES) if (re.test(frame.url)) return name;
  return "other JS";
}

/** Time by stage and the top functions of a `.cpuprofile`. */
export function summarize(profile: CpuProfile, top = 25): string {
  const { byId, resolve } = profileCategorizer(profile, categoryOf, "native (no JS caller)");
  const byCat = new Map<string, number>();
  const byFn = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0; // a delta is the time until the next sample
    const id = profile.samples[i]!;
    const node = byId.get(id)!;
    total += us;
    const cat = resolve(id);
    byCat.set(cat, (byCat.get(cat) ?? 0) + us);
    const f = node.callFrame;
    const where = f.url
      ? `${f.url.replace(/^.*\/(npm\/registry\.npmjs\.org\/|main\/)/, "")}:${
        (f.lineNumber ?? 0) + 1
      }`
      : "";
    const key = `${f.functionName || "(anonymous)"} ${where} [${cat}]`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${(100 * us / total).toFixed(1).padStart(5)}%`;
  const sec = (us: number) => `${(us / 1e6).toFixed(2).padStart(7)} s`;
  const lines = [
    `Sampled ${sec(total)} of CPU in ${profile.samples.length} samples.`,
    "",
    "By stage:",
  ];
  for (const [cat, us] of [...byCat].sort((a, b) => b[1] - a[1])) {
    lines.push(`  ${pct(us)} ${sec(us)}  ${cat}`);
  }
  lines.push("", `Top ${top} functions by self time (builtins charged to themselves here):`);
  for (const [fn, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${pct(us)} ${sec(us)}  ${fn}`);
  }
  return lines.join("\n");
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      stage: { type: "string", default: "fast" },
      top: { type: "string", default: "25" },
      keep: { type: "string" },
      profile: { type: "string" },
    },
    allowPositionals: true,
  });
  let file = values.profile;
  if (!file) {
    if (positionals.length !== 1) {
      console.error(
        "Usage: deno run -A scripts/bench_profile.ts FILE.parquet [--stage S] [--top N] " +
          "[--keep DIR] | --profile FILE.cpuprofile",
      );
      return 2;
    }
    const dir = values.keep ?? await Deno.makeTempDir({ prefix: "seclake-prof-" });
    await Deno.mkdir(dir, { recursive: true });
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        "--cpu-prof",
        `--cpu-prof-dir=${dir}`,
        new URL("./bench_decode.ts", import.meta.url).pathname,
        positionals[0]!,
        "--stage",
        values.stage,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) return 1;
    console.log(new TextDecoder().decode(out.stdout).trim());
    const found = [];
    for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".cpuprofile")) found.push(e.name);
    found.sort();
    file = join(dir, found[found.length - 1]!);
    console.log(`profile: ${file}`);
  }
  const profile = JSON.parse(await Deno.readTextFile(file)) as CpuProfile;
  console.log(summarize(profile, Number(values.top)));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
