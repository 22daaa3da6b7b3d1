/** The backfill runner beside the live path: locks, one delivery per event, a failed object held. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeOcsfParquet } from "../../tests/lib/ocsf_fixtures.ts";
import { guardLivePath, ObjectLocks, runBackfill } from "../pipeline/backfill_runner.ts";
import { processObject } from "../pipeline/object_processor.ts";
import type { ObjectReader } from "../pipeline/ports.ts";
import { ConsoleOutput } from "../output/console.ts";
import type { DayBatch } from "../source/backfill.ts";
import { LocalObjectReader } from "../source/directory.ts";
import { BackfillCursor } from "../state/backfill_cursor.ts";
import { StateStore } from "../state/store.ts";
import { LineFormatter } from "../transform/line.ts";
import { parseDevoLine } from "../../tests/helpers/devo_line.ts";

const D1 = "20240401";

// ---- the runner, the locks and the live path ----------------------------------------------------

Deno.test("locks: the second holder waits for the first", async () => {
  const locks = new ObjectLocks();
  const ref = { bucket: "b", key: "k" };
  const order: string[] = [];
  const r1 = await locks.acquire(ref);
  const second = locks.acquire(ref).then((r) => {
    order.push("second");
    r();
  });
  await new Promise((r) => setTimeout(r, 20));
  order.push("first done");
  r1();
  await second;
  assert.deepEqual(order, ["first done", "second"]);
  assert.equal(locks.size, 0);
  const ac = new AbortController();
  const r3 = await locks.acquire(ref);
  const waiting = locks.acquire(ref, ac.signal);
  ac.abort();
  await assert.rejects(waiting);
  r3();
});

interface LocalLake {
  dir: string;
  keys: string[];
  uids: Map<string, string[]>;
}

async function localLake(objects: number, garbage: number[] = []): Promise<LocalLake> {
  const dir = await Deno.makeTempDir({ prefix: "seclake-bf-local-" });
  const keys: string[] = [];
  const uids = new Map<string, string[]>();
  for (let i = 0; i < objects; i++) {
    const key =
      `aws/VPC_FLOW/2.0/region=us-east-1/accountId=111122223333/eventDay=${D1}/k${i}.parquet`;
    const path = join(dir, ...key.split("/"));
    await Deno.mkdir(join(path, ".."), { recursive: true });
    if (garbage.includes(i)) await Deno.writeTextFile(path, "not parquet");
    else {
      const r = await writeOcsfParquet(path, { classUid: 4001, rows: 12, seed: 500 + i });
      uids.set(key, r.expected!.map((e) => (e.metadata as { uid: string }).uid));
    }
    keys.push(key);
  }
  return { dir, keys, uids };
}

function slow(reader: ObjectReader, ms: number): ObjectReader {
  return {
    get requests() {
      return reader.requests;
    },
    async open(ref, signal) {
      await new Promise((r) => setTimeout(r, ms));
      return reader.open(ref, signal);
    },
  };
}

function memoryOutput() {
  let text = "";
  const out = new ConsoleOutput("memory", {
    write: (p) => {
      text += new TextDecoder().decode(p);
      return Promise.resolve(p.length);
    },
  });
  const uids = () =>
    text.split("\n").filter((l) => l).map((l) =>
      (parseDevoLine(l).event.metadata as { uid: string }).uid
    );
  return { out, uids };
}

const oneDay = (lake: LocalLake): DayBatch[] => [{
  day: D1,
  partitions: [{
    partition: {
      root: {
        kind: "aws",
        source: "VPC_FLOW",
        region: "us-east-1",
        account: "111122223333",
        prefix: "p/",
      },
      day: D1,
      prefix: lake.keys[0]!.slice(0, lake.keys[0]!.lastIndexOf("/") + 1),
    },
    objects: lake.keys.map((key) => ({ bucket: "b", key, size: 1 })),
    skipped: [],
    alreadyDone: false,
  }],
}];

async function* asAsync<T>(items: T[]): AsyncGenerator<T> {
  for (const i of items) yield await Promise.resolve(i);
}

async function raceLiveAndBackfill(guarded: boolean) {
  const lake = await localLake(6);
  const stateDir = await Deno.makeTempDir({ prefix: "seclake-bf-state-" });
  const { store } = await StateStore.open(stateDir);
  try {
    const reader = slow(new LocalObjectReader(lake.dir), 30);
    const { out, uids } = memoryOutput();
    const locks = new ObjectLocks();
    const live = guarded
      ? guardLivePath({ reader, state: store, locks })
      : { reader, state: store };
    const formatter = new LineFormatter({ hostname: "h", tag: "a.b.c" });
    const { cursor } = await BackfillCursor.open(stateDir, { job: {} });
    const [summary] = await Promise.all([
      runBackfill({
        batches: asAsync(oneDay(lake)),
        reader,
        outputs: [out],
        formatterFor: () => formatter,
        state: store,
        locks: guarded ? locks : undefined,
        cursor,
        concurrency: 3,
      }),
      ...lake.keys.map((key) =>
        processObject({ bucket: "b", key }, {
          reader: live.reader,
          outputs: [out],
          formatter,
          state: live.state,
        })
      ),
    ]);
    await cursor.close();
    return { summary, uids: uids(), lake, cursor };
  } finally {
    await store.close();
    await Deno.remove(stateDir, { recursive: true });
    await Deno.remove(lake.dir, { recursive: true });
  }
}

Deno.test("runner: the live path and the backfill on the same objects at once send each event once", async () => {
  const { summary, uids, lake, cursor } = await raceLiveAndBackfill(true);
  const expected = [...lake.uids.values()].flat().sort();
  assert.deepEqual([...uids].sort(), expected);
  assert.equal(summary.ok, true);
  assert.equal(summary.delivered + summary.duplicates, 6);
  assert.deepEqual(cursor.get(oneDay(lake)[0]!.partitions[0]!.partition.prefix), { done: true });
  assert.equal(cursor.doneThrough, D1);
  // Control: without the locks the same race does send objects twice.
  const unguarded = await raceLiveAndBackfill(false);
  assert.ok(unguarded.uids.length > expected.length, "the race did not happen");
});

Deno.test("runner: a failed object holds the cursor and is not marked complete", async () => {
  const lake = await localLake(5, [2]);
  const stateDir = await Deno.makeTempDir({ prefix: "seclake-bf-state-" });
  const { store } = await StateStore.open(stateDir);
  try {
    const { out, uids } = memoryOutput();
    const { cursor } = await BackfillCursor.open(stateDir, { job: {} });
    const summary = await runBackfill({
      batches: asAsync(oneDay(lake)),
      reader: new LocalObjectReader(lake.dir),
      outputs: [out],
      formatterFor: () => new LineFormatter({ hostname: "h", tag: "a.b.c" }),
      state: store,
      cursor,
      concurrency: 2,
      attempts: 1,
    });
    await cursor.close();
    assert.equal(summary.ok, false);
    assert.equal(summary.failed, 1);
    assert.equal(summary.delivered, 4);
    assert.equal(summary.failures[0]!.error.id, 601);
    assert.equal(uids().length, 48);
    const prefix = oneDay(lake)[0]!.partitions[0]!.partition.prefix;
    assert.deepEqual(cursor.get(prefix), { last: lake.keys[1] });
    assert.equal(cursor.doneThrough, undefined);
    assert.equal(store.completed({ bucket: "b", key: lake.keys[2]! }), undefined);
    assert.ok(store.completed({ bucket: "b", key: lake.keys[3]! }));
  } finally {
    await store.close();
    await Deno.remove(stateDir, { recursive: true });
    await Deno.remove(lake.dir, { recursive: true });
  }
});
