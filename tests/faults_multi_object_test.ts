/**
 * Fault injection: a message naming three objects whose second fails twice (the fault proxy
 * answers its GETs with 404) and then succeeds. The completed first and third objects are
 * remembered: they are neither read nor sent again, only acknowledged as duplicates.
 */
import assert from "node:assert/strict";
import { s3RecordsBody } from "./helpers/lake.ts";
import { NO_SUCH_KEY } from "./helpers/fault_proxy.ts";
import { spawnCollector, waitUntil } from "./helpers/process.ts";
import { AWS_ENV, DAY, describe, runFinished, startWorld, tally } from "./helpers/fault_env.ts";

Deno.test("a message naming three objects whose second fails twice: only the second is read again", async () => {
  await using w = await startWorld();
  const key = (name: string) => `ext/findings/1.0/${DAY}/${name}.parquet`;
  const objects = [
    await w.putFixture(key("first"), { classUid: 2004, rows: 900, seed: 501 }),
    await w.putFixture(key("second"), { classUid: 2004, rows: 700, seed: 502 }),
    await w.putFixture(key("third"), { classUid: 2004, rows: 500, seed: 503 }),
  ];
  const [first, second, third] = objects.map((o) => o.key);
  w.proxy.add({ service: "s3", operation: "GetObject", key: second, fault: NO_SUCH_KEY, times: 2 });
  await w.lake.send(s3RecordsBody(w.lake.bucket, [first!, second!, third!]));

  const config = await w.writeConfig();
  await using run = spawnCollector(["run", "--config", config], { env: AWS_ENV });
  const ids = objects.flatMap((o) => o.ids);
  await waitUntil(
    async () => {
      const d = await w.lake.depth();
      return (d.visible + d.inFlight === 0 && tally(w.lines(), ids).missing.length === 0) ||
        run.done;
    },
    "every event and an empty queue",
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  run.kill("SIGTERM");
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr);

  const t = tally(w.lines(), ids);
  assert.equal(t.missing.length, 0, describe(t));
  assert.equal(t.duplicates, 0, describe(t));
  // The first and third objects were read once; the second three times (two 404s).
  const gets = (k: string) => w.proxy.count({ service: "s3", operation: "GetObject", key: k });
  assert.equal(gets(first!), 1);
  assert.equal(gets(third!), 1);
  assert.equal(gets(second!), 3);
  const finished = runFinished(run.stderr)!;
  assert.equal(finished.received, 3);
  assert.equal(finished.deleted, 1);
  // Completed objects were acknowledged as duplicates on the two later receives.
  assert.equal(finished.duplicates, 2 * (900 + 500));
  assert.equal(
    run.stderr.match(/first\.parquet was already delivered; 900 duplicated events filtered out/g)
      ?.length,
    2,
  );
});
