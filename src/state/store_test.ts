import assert from "node:assert/strict";
import { join } from "node:path";
import { isCollectorError } from "../errors.ts";
import { StateStore } from "./store.ts";

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "seclake-state-" });
  try {
    await fn(join(dir, "state"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const A = { bucket: "lake", key: "aws/X/1.gz.parquet", etag: "e1" };

Deno.test("completed objects and checkpoints survive a reopen", async () => {
  await withDir(async (dir) => {
    const { store } = await StateStore.open(dir);
    assert.equal(store.completed(A), undefined);
    await store.saveCheckpoint(A, 40_000);
    await store.saveCheckpoint({ ...A, key: "b" }, 7);
    await store.markCompleted({ ...A, key: "c" }, 12);
    await store.close();
    const { store: again, report } = await StateStore.open(dir);
    assert.deepEqual(report.corrupt, []);
    assert.equal(again.checkpoint(A), 40_000);
    assert.equal(again.checkpoint({ ...A, etag: "other" }), 0); // a new version starts over
    assert.equal(again.completed({ ...A, key: "c" })?.events, 12);
    assert.equal(again.completed({ ...A, key: "c", etag: "other" }), undefined);
    assert.equal(again.completed({ bucket: "lake", key: "c" })?.events, 12);
    await again.markCompleted(A, 50_000);
    assert.equal(again.checkpoint(A), 0); // completion clears the checkpoint
    await again.close();
  });
});

Deno.test("state files are private: directory 0700, files 0600", async () => {
  if (Deno.build.os === "windows") return;
  await withDir(async (dir) => {
    const { store } = await StateStore.open(dir);
    await store.markCompleted(A, 1);
    await store.saveCheckpoint({ ...A, key: "z" }, 3);
    await store.close();
    assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    for await (const e of Deno.readDir(dir)) {
      assert.equal((await Deno.stat(join(dir, e.name))).mode! & 0o777, 0o600, e.name);
    }
  });
});

Deno.test("a torn last journal line is ignored; a corrupt file is set aside with StateError 701", async () => {
  await withDir(async (dir) => {
    const { store } = await StateStore.open(dir);
    await store.markCompleted(A, 5);
    await store.close();
    await Deno.writeTextFile(join(dir, "completed.jsonl"), '{"id":"lake/half', { append: true });
    const first = await StateStore.open(dir);
    assert.deepEqual(first.report.corrupt, []);
    assert.equal(first.store.completed(A)?.events, 5);
    await first.store.close();
    await Deno.writeTextFile(join(dir, "checkpoints.json"), "{not json");
    await Deno.writeTextFile(join(dir, "completed.json"), "\u0000\u0000garbage");
    const second = await StateStore.open(dir);
    assert.equal(second.report.corrupt.length, 2);
    assert.ok(
      second.report.corrupt.every((e) => isCollectorError(e, "STATE_CORRUPT") && e.id === 701),
    );
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.equal(names.filter((n) => n.includes(".corrupt-")).length, 2);
    await second.store.markCompleted(A, 1); // still works
    await second.store.close();
  });
});

Deno.test("changing reset_persistence_auth clears the state", async () => {
  await withDir(async (dir) => {
    const { store } = await StateStore.open(dir, { resetAuth: "one" });
    await store.markCompleted(A, 5);
    await store.saveCheckpoint({ ...A, key: "k" }, 9);
    await store.close();
    const same = await StateStore.open(dir, { resetAuth: "one" });
    assert.equal(same.report.reset, false);
    assert.ok(same.store.completed(A));
    await same.store.close();
    const changed = await StateStore.open(dir, { resetAuth: "two" });
    assert.equal(changed.report.reset, true);
    assert.equal(changed.store.completed(A), undefined);
    assert.equal(changed.store.checkpoint({ ...A, key: "k" }), 0);
    await changed.store.close();
  });
});

Deno.test("completed objects expire after retention and are bounded in number", async () => {
  await withDir(async (dir) => {
    let now = 1_000_000;
    const { store } = await StateStore.open(dir, {
      retentionMs: 1000,
      maxCompleted: 3,
      now: () => now,
      compactEvery: 2,
    });
    for (let i = 0; i < 5; i++) {
      now += 10;
      await store.markCompleted({ bucket: "b", key: `k${i}` }, 1);
    }
    assert.ok(store.completedCount <= 3 + 2);
    await store.close();
    now += 5000;
    const { store: later } = await StateStore.open(dir, { retentionMs: 1000, now: () => now });
    assert.equal(later.completedCount, 0);
    await later.close();
  });
});

Deno.test("quarantine appends one JSON line per message", async () => {
  await withDir(async (dir) => {
    const { store } = await StateStore.open(dir);
    await store.quarantine({
      time: "t",
      message_id: "m1",
      receive_count: 6,
      reason: "r",
      error_id: 601,
      body: "x",
    });
    await store.quarantine({
      time: "t",
      message_id: "m2",
      receive_count: 6,
      reason: "r",
      body: "y\nz",
    });
    await store.close();
    const lines = (await Deno.readTextFile(join(dir, "quarantine.jsonl"))).trim().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l).message_id), ["m1", "m2"]);
    assert.equal(JSON.parse(lines[1]!).body, "y\nz");
  });
});
