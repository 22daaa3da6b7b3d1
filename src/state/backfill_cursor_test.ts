/** A backfill cursor: persisted, compacted by day, restarted when its job changes. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { BackfillCursor } from "../state/backfill_cursor.ts";

const D1 = "20240401";
const D2 = "20240402";

// ---- the cursor ---------------------------------------------------------------------------------

Deno.test("cursor: persisted, compacted by day, restarted when the job changes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-cursor-" });
  try {
    const job = { bucket: "b", from: "2024-04-01T00:00:00.000Z", reset: "" };
    const pa = `aws/X/region=r/accountId=1/eventDay=${D1}/`;
    const pb = `aws/X/region=r/accountId=1/eventDay=${D2}/`;
    {
      const { cursor, report } = await BackfillCursor.open(dir, { job });
      assert.equal(report.restarted, false);
      await cursor.advance(pa, `${pa}1.parquet`);
      await cursor.advance(pa, `${pa}0.parquet`); // never moves back
      await cursor.advance(pb, `${pb}9.parquet`, true);
      await cursor.close();
      const mode = (await Deno.stat(cursor.path)).mode! & 0o777;
      if (Deno.build.os !== "windows") assert.equal(mode, 0o600);
    }
    {
      const { cursor } = await BackfillCursor.open(dir, { job: { ...job } });
      assert.deepEqual(cursor.get(pa), { last: `${pa}1.parquet` });
      assert.deepEqual(cursor.get(pb), { last: `${pb}9.parquet`, done: true });
      await cursor.doneThroughDay(D1);
      await cursor.close();
      assert.equal(cursor.size, 1);
      assert.deepEqual(cursor.get(pa), { done: true });
    }
    {
      const { cursor, report } = await BackfillCursor.open(dir, {
        job: { ...job, from: "2024-03-01T00:00:00.000Z" },
      });
      assert.equal(report.restarted, true);
      assert.deepEqual(cursor.get(pa), {});
      await cursor.close();
    }
    await Deno.writeTextFile(join(dir, "backfill.json"), "{not json");
    const { report } = await BackfillCursor.open(dir, { job });
    assert.equal(report.corrupt?.id, 701);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cursor: hasJob tells whether a job began, and reads only a plain cursor file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-cursor-" });
  try {
    const job = { bucket: "b", historical_poll_datetime: "2024-04-01T00:00:00.000Z" };
    assert.equal(BackfillCursor.hasJob(dir, job), false, "no cursor");
    const { cursor } = await BackfillCursor.open(dir, { job });
    await cursor.advance(`aws/X/eventDay=${D1}/`, `aws/X/eventDay=${D1}/1.parquet`);
    await cursor.close();
    assert.equal(BackfillCursor.hasJob(dir, { ...job }), true);
    assert.equal(BackfillCursor.hasJob(dir, { ...job, bucket: "other" }), false, "another job");
    // Something else under the cursor's name (a FIFO would block a read): not read.
    if (Deno.build.os !== "windows") {
      const fifo = join(dir, "fifo");
      const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
      assert.ok(made.success);
      await Deno.remove(join(dir, "backfill.json"));
      await Deno.rename(fifo, join(dir, "backfill.json"));
      assert.equal(BackfillCursor.hasJob(dir, job), false, "a FIFO");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
