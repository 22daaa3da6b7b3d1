import assert from "node:assert/strict";
import { fullCollection, guardMemory } from "./memory_guard.ts";

const MiB = 1024 * 1024;
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("fullCollection collects what nothing holds any more", async () => {
  const collect = fullCollection();
  assert.ok(collect, "the runtime gives a full collection");
  let big: Uint8Array | undefined = new Uint8Array(8 * MiB);
  const ref = new WeakRef(big);
  big = undefined;
  // A WeakRef's target is kept until the job that made or read it ends.
  await tick(0);
  collect();
  assert.equal(ref.deref(), undefined);
});

Deno.test("guardMemory collects only while RSS is above its share of the budget, and stops", async () => {
  let rss = 100 * MiB;
  let collected = 0;
  const guard = guardMemory(256 * MiB, {
    everyMs: 5,
    rss: () => rss,
    collect: () => collected++,
  })!;
  assert.equal(guard.aboveBytes, Math.floor(256 * MiB * 0.85));
  await tick(40);
  assert.equal(collected, 0, "well under the budget");
  rss = 230 * MiB;
  await tick(40);
  assert.ok(collected > 0, "near the budget");
  assert.equal(guard.collections, collected);
  guard.stop();
  const after = collected;
  await tick(40);
  assert.equal(collected, after, "stopped");
});
