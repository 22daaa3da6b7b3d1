/** The backfill progress counter: bar, line and time left. */
import assert from "node:assert/strict";
import { BackfillProgress, formatDuration } from "../telemetry/backfill_progress.ts";

Deno.test("progress: bar, line and ETA", () => {
  let t = 0;
  const p = new BackfillProgress({ now: () => t });
  p.onPlan({ roots: [], days: ["1", "2"] });
  p.onDayListed({
    day: "1",
    partitions: [{
      partition: { root: {} as never, day: "1", prefix: "x/" },
      objects: [{ bucket: "b", key: "k1", size: 1000 }, { bucket: "b", key: "k2", size: 1000 }],
      skipped: [],
      alreadyDone: false,
    }],
  });
  t = 10_000;
  p.onEvents(500);
  p.onObjectDone({ bucket: "b", key: "k1", size: 1000 }, {
    ok: true,
    ref: { bucket: "b", key: "k1" },
    events: 500,
    requests: 1,
    seconds: 1,
  });
  // One day of two listed: 4000 bytes estimated, 1000 done in 10 s: 30 s left.
  assert.equal(p.estimatedBytes, 4000);
  assert.equal(p.etaSeconds, 30);
  assert.match(p.bar(8), /^\[##\.\.\.\.\.\.\] {2}25% 1\/2\+ objects .* 50 events\/s ETA 30s$/);
  assert.match(
    p.line(),
    /1 of 2 objects .* 1 of 2 days listed, 0 failed, 500 events, 50\.0 events\/s/,
  );
  assert.equal(formatDuration(3725), "1h02m");
  assert.equal(formatDuration(undefined), "?");
});

Deno.test("progress: one large object moves the bar by the bytes read of it", () => {
  let t = 0;
  const p = new BackfillProgress({ now: () => t });
  p.onPlan({ roots: [], days: ["1"] });
  const big = { bucket: "b", key: "big", size: 100 * 1024 * 1024 };
  p.onDayListed({
    day: "1",
    partitions: [{
      partition: { root: {} as never, day: "1", prefix: "x/" },
      objects: [big],
      skipped: [],
      alreadyDone: false,
    }],
  });
  t = 20_000;
  assert.match(p.bar(10), /^\[\.{10}\] {3}0% 0\/1 objects 0\.00B\/100\.00MiB/);
  p.onBytesRead("big", 30 * 1024 * 1024, big.size);
  p.onBytesRead("big", 20 * 1024 * 1024, big.size);
  assert.equal(p.progressBytes, 50 * 1024 * 1024);
  assert.match(p.bar(10), /^\[#{5}\.{5}\] {2}50% 0\/1 objects 50\.00MiB\/100\.00MiB .* ETA 20s$/);
  assert.match(p.line(), /0 of 1 objects listed so far \(50\.00MiB of 100\.00MiB read\)/);
  // Reads past the size (a retry reads again) count no more than the object.
  p.onBytesRead("big", 80 * 1024 * 1024, big.size);
  assert.equal(p.progressBytes, big.size);
  // Once done, the object counts by its size, once.
  p.onObjectDone(big, { ok: true });
  assert.equal(p.progressBytes, big.size);
  assert.match(p.bar(10), /^\[#{10}\] 100% 1\/1 objects/);
});
