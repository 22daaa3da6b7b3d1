import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BASE_BYTES,
  budgetPlan,
  cgroupHeadroom,
  cgroupMemoryLimit,
  memoryLimitInForce,
} from "./memory_budget.ts";
import type { BudgetSettings } from "./memory_budget.ts";

const MiB = 1024 * 1024;
const SETTINGS: BudgetSettings = {
  decodeThreads: 2,
  outputs: [{ maxBatchBytes: 8 * MiB, batchesInFlight: 2, senders: 1 }],
};

Deno.test("budgetPlan: without a limit, the configured settings and the readers' defaults", () => {
  const k = budgetPlan(undefined, SETTINGS);
  assert.equal(k.limitBytes, undefined);
  assert.equal(k.rowGroupBytes, undefined);
  assert.equal(k.decodeThreads, 2);
  assert.equal(k.aheadBytes, 16 * MiB);
  assert.equal(k.readAheadBytes, 8 * MiB);
  assert.equal(k.groupReadBytes, 16 * MiB);
  assert.equal(k.batchesInFlight, 2);
  assert.equal(k.maxBatchBytes, 8 * MiB);
});

Deno.test("budgetPlan: a large limit keeps the configured settings", () => {
  const k = budgetPlan(4096 * MiB, SETTINGS);
  assert.equal(k.decodeThreads, 2);
  assert.equal(k.aheadBytes, 16 * MiB);
  assert.equal(k.batchesInFlight, 2);
  assert.equal(k.maxBatchBytes, 8 * MiB);
  assert.ok(k.plannedBytes <= 4096 * MiB);
});

Deno.test("budgetPlan: smaller limits give up speed before memory, never growing", () => {
  let previous = budgetPlan(4096 * MiB, SETTINGS);
  for (let limit = 4096 * MiB; limit >= 64 * MiB; limit -= 8 * MiB) {
    const k = budgetPlan(limit, SETTINGS);
    // Every knob is at most what a larger limit gave.
    for (
      const knob of [
        "decodeThreads",
        "aheadBytes",
        "readAheadBytes",
        "groupReadBytes",
        "batchesInFlight",
        "maxBatchBytes",
        "rowGroupBytes",
      ] as const
    ) {
      assert.ok(k[knob]! <= previous[knob]!, `${knob} grew at ${limit / MiB} MiB`);
    }
    // What the plan expects fits the limit whenever any plan can.
    const least = budgetPlan(1, SETTINGS);
    if (least.plannedBytes <= limit) assert.ok(k.plannedBytes <= limit, `${limit / MiB} MiB`);
    previous = k;
  }
});

Deno.test("budgetPlan: 256 MiB keeps one decode worker, two batches in flight, and names the row group room", () => {
  const k = budgetPlan(256 * MiB, SETTINGS);
  assert.ok(k.plannedBytes <= 256 * MiB);
  // One worker, still two batches in flight of the configured size: waiting for each
  // confirmation, or twice the connections, would cost more speed than the second worker.
  assert.equal(k.decodeThreads, 1);
  assert.equal(k.batchesInFlight, 2);
  assert.equal(k.maxBatchBytes, 8 * MiB);
  assert.equal(k.aheadBytes, 4 * MiB);
  assert.equal(k.readAheadBytes, 2 * MiB);
  // A row group decoded alone may use what the base and the smallest output leave.
  assert.equal(k.rowGroupBytes, 256 * MiB - BASE_BYTES - 2 * MiB);
  // A configured batch smaller than the plan's stays as configured.
  const small = budgetPlan(256 * MiB, {
    decodeThreads: 0,
    outputs: [{ maxBatchBytes: 64 * 1024, batchesInFlight: 1, senders: 1 }],
  });
  assert.equal(small.maxBatchBytes, 64 * 1024);
  assert.equal(small.batchesInFlight, 1);
  assert.equal(small.decodeThreads, 0);
});

Deno.test("budgetPlan: a limit below what the collector needs leaves no room for row groups", () => {
  const k = budgetPlan(BASE_BYTES, SETTINGS);
  assert.equal(k.decodeThreads, 0);
  assert.equal(k.rowGroupBytes, 0);
  assert.equal(k.batchesInFlight, 1);
  // On the main thread, one object (one row group) at a time.
  assert.equal(k.maxConcurrentObjects, 1);
  assert.equal(budgetPlan(4096 * MiB, SETTINGS).maxConcurrentObjects, undefined);
  assert.equal(
    budgetPlan(undefined, { ...SETTINGS, decodeThreads: 0 }).maxConcurrentObjects,
    undefined,
  );
});

/** Writes `files` (path → text) under a new directory standing for `/`; returns it. */
async function fakeRoot(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "seclake-cgroup-" });
  for (const [path, text] of Object.entries(files)) {
    const full = join(root, path);
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
  return root;
}

Deno.test("cgroupMemoryLimit: v2, the smallest limit of the group and its ancestors", async () => {
  const root = await fakeRoot({
    "proc/self/cgroup": "0::/kubepods/pod1/ctr\n",
    "sys/fs/cgroup/memory.max": "max\n",
    "sys/fs/cgroup/kubepods/memory.max": "8589934592\n",
    "sys/fs/cgroup/kubepods/pod1/memory.max": "536870912\n",
    "sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "max\n",
  });
  try {
    assert.equal(cgroupMemoryLimit({ root }), 512 * MiB);
    const limit = memoryLimitInForce(undefined, { root });
    assert.deepEqual(limit, {
      bytes: 512 * MiB - cgroupHeadroom(512 * MiB),
      source: "cgroup",
      cgroupBytes: 512 * MiB,
    });
    assert.equal(cgroupHeadroom(512 * MiB), Math.floor(512 * MiB / 10));
    // The setting wins; 0 means no limit.
    assert.deepEqual(memoryLimitInForce(300 * MiB, { root }), {
      bytes: 300 * MiB,
      source: "setting",
      cgroupBytes: 512 * MiB,
    });
    assert.deepEqual(memoryLimitInForce(0, { root }), {
      source: "setting",
      cgroupBytes: 512 * MiB,
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cgroupMemoryLimit: v2 with max everywhere, or no cgroup files, is no limit", async () => {
  const unlimited = await fakeRoot({
    "proc/self/cgroup": "0::/user.slice\n",
    "sys/fs/cgroup/memory.max": "max\n",
    "sys/fs/cgroup/user.slice/memory.max": "max\n",
  });
  const empty = await fakeRoot({});
  try {
    assert.equal(cgroupMemoryLimit({ root: unlimited }), undefined);
    assert.deepEqual(memoryLimitInForce(undefined, { root: unlimited }), { source: "none" });
    assert.equal(cgroupMemoryLimit({ root: empty }), undefined);
    assert.deepEqual(memoryLimitInForce(undefined, { root: empty }), { source: "none" });
  } finally {
    await Deno.remove(unlimited, { recursive: true });
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("cgroupMemoryLimit: v1 memory controller, its unlimited value, and a container's view", async () => {
  const v1 = await fakeRoot({
    "proc/self/cgroup": "12:cpu,cpuacct:/docker/abc\n11:memory:/docker/abc\n0::/\n",
    "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
    "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "268435456\n",
  });
  // Inside the container, its own group's path is not in its view: the top holds its limit.
  const container = await fakeRoot({
    "proc/self/cgroup": "11:memory:/docker/abc\n",
    "sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824\n",
  });
  const unlimited = await fakeRoot({
    "proc/self/cgroup": "11:memory:/\n",
    "sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
  });
  try {
    assert.equal(cgroupMemoryLimit({ root: v1 }), 256 * MiB);
    assert.equal(cgroupMemoryLimit({ root: container }), 1024 * MiB);
    assert.equal(cgroupMemoryLimit({ root: unlimited }), undefined);
  } finally {
    for (const r of [v1, container, unlimited]) await Deno.remove(r, { recursive: true });
  }
});
