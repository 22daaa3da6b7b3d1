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
