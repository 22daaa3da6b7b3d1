import assert from "node:assert/strict";
import { pipelineNote, references } from "./bench.ts";
import type { PipelineResult } from "./bench.ts";

const MB = 1024 * 1024;

function file(
  label: string,
  o: { pipeline?: number; duckdb?: number; rss?: number[]; rows?: number },
) {
  const [decode, pipeline] = o.rss ?? [100 * MB, 200 * MB];
  return {
    label,
    rows: o.rows ?? 1_000_000,
    fileBytes: 1,
    generatedSeconds: 0,
    decode: { peakRssBytes: decode },
    pipeline: o.pipeline === undefined
      ? undefined
      : { ok: true, seconds: o.pipeline, peakRssBytes: pipeline },
    duckdb: o.duckdb === undefined ? undefined : { seconds: o.duckdb },
  } as never;
}

Deno.test("bench references: wall rate of CloudTrail ZSTD pipelines beside DuckDB's, the highest peak", () => {
  const two = references([
    file("cloudtrail zstd rg20k", { pipeline: 9, duckdb: 10 }),
    file("cloudtrail zstd rg128k", { pipeline: 10, duckdb: 9, rss: [300 * MB, 500 * MB] }),
    file("vpcflow gzip rg20k", { pipeline: 9, duckdb: 1, rss: [100 * MB, 250 * MB] }),
  ]);
  assert.match(two[0]!, /: cloudtrail zstd rg20k 1\.11×, cloudtrail zstd rg128k 0\.90×\.$/);
  assert.match(two[1]!, /: highest cloudtrail zstd rg128k pipeline 500 MB of 6 measurements\.$/);

  assert.match(references([file("vpcflow zstd rg20k", {})])[0]!, /not measured/);
  // A failed pipeline run's peak (the collector exited early, small) is not counted.
  const failed = file("cloudtrail zstd rg20k", { pipeline: 9, duckdb: 10 }) as {
    pipeline: { ok: boolean };
  };
  failed.pipeline.ok = false;
  const withFailure = references([failed as never]);
  assert.match(withFailure[0]!, /not measured/);
  assert.match(
    withFailure[1]!,
    /: highest cloudtrail zstd rg20k decode 100 MB of 1 measurement; not measured: cloudtrail zstd rg20k pipeline failed\.$/,
  );
  const quick = references([file("cloudtrail zstd rg20k", { pipeline: 9, duckdb: 10, rows: 100 })]);
  assert.match(quick[0]!, /1\.11× \(files under 1,000,000 rows.*indicates\)\.$/);
});

Deno.test("bench progress line: a failed pipeline run shows no rate, a finished one does", () => {
  const run: PipelineResult = {
    ok: true,
    filtered: 0,
    seconds: 5,
    exitSeconds: 6,
    receiveSeconds: 4.5,
    lines: 1_000_000,
    bytes: 1,
    connections: 200,
    peakRssBytes: 300 * MB,
    exitCode: 0,
    cpu: { collector: 8, moto: 1, receiver: 1.5 },
    mainThread: { runSeconds: 1.7, waitSeconds: 2 },
  };
  assert.match(
    pipelineNote("pipeline", 1_000_000, run),
    /^pipeline 200,000 ev\/s, peak 300 MB, collector CPU 8\.00 µs per input event \(/,
  );
  assert.match(
    pipelineNote("pipeline", 1_000_000, { ...run, filtered: 250_000 }),
    /collector CPU 8\.00 µs per input event, 250000 filtered out \(/,
  );
  const failed = pipelineNote("pipeline", 1_000_000, {
    ...run,
    ok: false,
    seconds: 0.2,
    exitSeconds: 0.2,
    lines: 0,
    peakRssBytes: 84 * MB,
    error: "collector exited 78 (log: x.log)",
  });
  assert.equal(
    failed,
    "pipeline FAILED after 0.2 s, peak 84 MB: collector exited 78 (log: x.log) (0 lines received)",
  );
  assert.doesNotMatch(failed, /ev\/s/);
});
