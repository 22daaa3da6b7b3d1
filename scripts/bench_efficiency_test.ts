import assert from "node:assert/strict";
import {
  efficiencyOf,
  efficiencyTable,
  efficiencyTargets,
  marginalCpuPerMillion,
  profileCategories,
  profileTable,
} from "./bench_efficiency.ts";
import type { CpuRun, EfficiencyResult } from "./bench_efficiency.ts";

const MiB = 1024 * 1024;
const run = (seconds: number, cpu: number, rss = 200 * MiB, ok = true): CpuRun => ({
  ok,
  seconds,
  cpu: { collector: cpu },
  peakRssBytes: rss,
});

function file(o: Partial<EfficiencyResult> = {}): EfficiencyResult {
  return {
    label: "cloudtrail zstd rg20k",
    rows: 200_020,
    baselineRows: 20,
    pipeline: run(2, 3.0),
    baselinePipeline: run(0.5, 1.0),
    duckdb: { seconds: 1, cpuSeconds: 1.5 },
    baselineDuckdb: { seconds: 0.05, cpuSeconds: 0.3 },
    ...o,
  };
}

Deno.test("marginal CPU: the run less the tiny run, per million events", () => {
  assert.equal(marginalCpuPerMillion(3, 200_020, 1, 20), 10);
  assert.equal(marginalCpuPerMillion(3, 200_020, undefined, 20), undefined);
  assert.equal(marginalCpuPerMillion(1, 200_020, 1, 20), undefined);
  const e = efficiencyOf(file());
  assert.equal(e.collector, 10);
  assert.ok(Math.abs(e.duckdb! - 6) < 1e-9);
  assert.ok(Math.abs(e.efficiency! - 0.6) < 1e-9);
  // A failed pipeline run has no CPU figure.
  assert.equal(efficiencyOf(file({ pipeline: run(2, 3, 0, false) })).collector, undefined);
});

Deno.test("efficiency targets: met, not met and not measured, with the numbers", () => {
  const met = efficiencyTargets([
    file({ obfuscated: run(2.4, 3.3), limited: run(2.5, 3.1, 250 * MiB), memoryLimit: "256MiB" }),
  ]);
  assert.match(met[0]!, /≥ 0\.5× on CloudTrail-like ZSTD: met \(cloudtrail zstd rg20k 0\.60×\)\.$/);
  assert.match(met[1]!, /≥ 0\.8× the rate without: met \(cloudtrail zstd rg20k 0\.83×\)\.$/);
  assert.match(
    met[2]!,
    /: met \(memory_limit 256MiB: cloudtrail zstd rg20k peak 250 MiB at 0\.80×; with slow output: not measured \(--slow-output\)\)\.$/,
  );
  // The slow output's peak counts too.
  const slowOver = efficiencyTargets([
    file({
      limited: run(2.5, 3.1, 250 * MiB),
      limitedSlow: run(9, 3.1, 300 * MiB),
      memoryLimit: "256MiB",
    }),
  ]);
  assert.match(
    slowOver[2]!,
    /: NOT met \(.*; with slow output: peak cloudtrail zstd rg20k 300 MiB\)\.$/,
  );

  const missed = efficiencyTargets([
    file({
      pipeline: run(2, 5.0),
      obfuscated: run(5, 8),
      limited: run(2.2, 5, 300 * MiB),
      memoryLimit: "256MiB",
    }),
  ]);
  assert.match(missed[0]!, /NOT met \(cloudtrail zstd rg20k 0\.30×\)/);
  assert.match(missed[1]!, /NOT met \(cloudtrail zstd rg20k 0\.40×\)/);
  assert.match(missed[2]!, /NOT met \(.*peak 300 MiB at 0\.91×;/);

  const none = efficiencyTargets([file({ baselinePipeline: undefined })]);
  assert.match(none[0]!, /not measured/);
  assert.match(none[1]!, /not measured \(run with --obfuscation-ratio\)/);
  assert.match(none[2]!, /not measured \(run with --memory-limit 256MiB\)/);

  // The targets are judged on CloudTrail-like ZSTD files; other files' ratios follow them.
  const others = efficiencyTargets([
    file(),
    file({ label: "vpcflow zstd rg20k", pipeline: run(2, 5.0), obfuscated: run(5, 8) }),
  ]);
  assert.match(
    others[0]!,
    /: met \(cloudtrail zstd rg20k 0\.60×; other files, for reference: vpcflow zstd rg20k 0\.30×\)\.$/,
  );
  assert.match(others[1]!, /not measured \(run with --obfuscation-ratio\)/);
  const onlyOthers = efficiencyTargets([file({ label: "vpcflow gzip rg20k" })]);
  assert.match(onlyOthers[0]!, /not measured: no CloudTrail-like ZSTD file/);

  const failed = efficiencyTargets([file({ limited: run(1, 1, 0, false) })]);
  assert.match(failed[2]!, /NOT met: the run with a memory limit failed on cloudtrail zstd rg20k/);
  assert.match(
    efficiencyTable([file()]),
    /\| cloudtrail zstd rg20k \|\s+10\.0 \|\s+6\.0 \|\s+0\.60× \|/,
  );
});

Deno.test("profile categories: a sample counts for its innermost known frame; idle is left out", () => {
  const frame = (functionName: string, url = "") => ({ functionName, url });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 5, 6, 7, 8, 9] },
      {
        id: 2,
        callFrame: frame("assemble", "file:///r/src/parquet/json_plan.ts"),
        children: [3],
      },
      {
        id: 3,
        callFrame: frame("decompress", "file:///r/npm/fzstd/0.1.1/esm/index.mjs"),
        children: [4],
      },
      { id: 4, callFrame: frame("TypedArray.prototype.set") },
      { id: 5, callFrame: frame("(garbage collector)") },
      { id: 6, callFrame: frame("(idle)") },
      { id: 7, callFrame: frame("send", "file:///r/src/output/watched_conn.ts") },
      { id: 8, callFrame: frame("#leaf", "file:///r/src/parquet/obfuscating_writer.ts") },
      { id: 9, callFrame: frame("merge", "file:///r/src/parquet/lanes.ts") },
    ],
    samples: [4, 2, 5, 6, 7, 4, 8, 9],
    timeDeltas: [0, 100, 200, 300, 400, 500, 600, 700, 800],
  };
  const cats = profileCategories(profile);
  assert.deepEqual(Object.fromEntries(cats), {
    "decompress": 100 + 600,
    "JSON (event text)": 200,
    "GC": 300,
    "TLS and output": 500,
    "obfuscation": 700,
    "copies between isolates (postMessage, merge)": 800,
  });
});

Deno.test("profile table: a profile left unfinished at exit is not counted, and the table says so", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const frame = (functionName: string, url = "") => ({ functionName, url });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame("(root)"), children: [2] },
        { id: 2, callFrame: frame("send", "file:///r/src/output/watched_conn.ts") },
      ],
      samples: [2, 2],
      timeDeltas: [0, 1_000_000, 1_000_000],
    };
    await Deno.writeTextFile(`${dir}/CPU.1.cpuprofile`, JSON.stringify(profile));
    await Deno.writeTextFile(`${dir}/CPU.2.worker-1.cpuprofile`, '{"nodes":[{"id":1,');
    const table = await profileTable(dir, "a run", 1.5);
    assert.match(table, /1 profiles: .*; 1 profile left unfinished at exit, not counted/);
    assert.match(table, /\| TLS and output \| 2\.00 \| 0\.00 \| 2\.00 \| 100(\.0)?% \|/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
