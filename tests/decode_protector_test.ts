/**
 * The fast path must never detach (free) a buffer that V8 saw a `subarray` or `DataView` of.
 * The first such detach in an isolate invalidates V8's ArrayBufferDetaching protector, and every
 * optimized function that relied on it is thrown away and compiled again with checks: measured,
 * freeing one row group's compressed bytes at the end of each row group
 * (`transfer(0)`, 50 times per million events) made the one-thread decode of CloudTrail-like ZSTD
 * 0.6–0.8 CPU-s per million events slower (5.5 → 6.1–6.6 s), for 0–12 MB less peak RSS. Freeing
 * a buffer whose only view is the one it was made with (the slices) does not touch the
 * protector. See docs/performance.md ("Why freeing in the decoder costs CPU").
 */
import assert from "node:assert/strict";
import { fixtureFile } from "./helpers/fault_env.ts";

const TRACE = "Invalidating protector cell ArrayBufferDetaching";
const SCRIPT = new URL("./helpers/decode_trace.ts", import.meta.url).pathname;

async function traced(args: string[]): Promise<{ lines: number; trace: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--trace-protector-invalidation", SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  const lines = Number(/^lines (\d+)$/m.exec(text)?.[1]);
  return { lines, trace: text };
}

Deno.test("the fast path frees no buffer that would invalidate V8's detaching protector", async () => {
  const files = [
    await fixtureFile({ classUid: 6003, rows: 1000, seed: 11, rowGroupSize: 400 }),
    await fixtureFile({ classUid: 4001, rows: 1000, seed: 11, rowGroupSize: 400 }),
  ];
  const clean = await traced(files);
  // Each file read whole, in windows, and half the parts of each row group in parts of 64 rows.
  assert.ok(clean.lines > 2 * 2000, `only ${clean.lines} lines decoded`);
  assert.ok(!clean.trace.includes(TRACE), clean.trace);
  // The control: detaching a buffer that had a subarray view shows in the trace.
  const control = await traced([...files, "--detach-view"]);
  assert.equal(control.lines, clean.lines);
  assert.ok(control.trace.includes(TRACE), control.trace);
});
