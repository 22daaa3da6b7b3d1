/**
 * The memory budget through the collector process: the cgroup limit is read from the files the
 * test points `SECLAKE_CGROUP_ROOT` at, logged at start, and planned for; a row group larger than
 * what a small `memory_limit` leaves fails its object with `DataError` 613 while a small object
 * beside it is delivered.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import { runCollectorProcess } from "./helpers/collector.ts";
import { BASE_BYTES } from "../src/pipeline/memory_budget.ts";

const MiB = 1024 * 1024;

/** Writes an OCSF file at `path`, making its folders. */
async function writeFile(path: string, opts: Parameters<typeof writeOcsfParquet>[1]) {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  return await writeOcsfParquet(path, opts);
}
const KEY_DIR =
  "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=20240410";

function config(extra: string): string {
  return `globals:
  persistence: { directory_name: ./state }
  decode_threads: 1${extra}
outputs:
  console_1: { type: console }
inputs:
  lake:
    type: directory
    directory: ./lake
`;
}

Deno.test("memory budget: the cgroup's limit is detected, logged and planned for", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-budget-" });
  try {
    const cg = join(dir, "root");
    await Deno.mkdir(join(cg, "proc/self"), { recursive: true });
    await Deno.writeTextFile(join(cg, "proc/self/cgroup"), "0::/system.slice/seclake.service\n");
    await Deno.mkdir(join(cg, "sys/fs/cgroup/system.slice/seclake.service"), { recursive: true });
    await Deno.writeTextFile(join(cg, "sys/fs/cgroup/memory.max"), "max\n");
    await Deno.writeTextFile(join(cg, "sys/fs/cgroup/system.slice/memory.max"), "1073741824\n");
    await Deno.writeTextFile(
      join(cg, "sys/fs/cgroup/system.slice/seclake.service/memory.max"),
      "max\n",
    );
    const file = await writeFile(join(dir, "lake", KEY_DIR, "a.gz.parquet"), {
      classUid: 6003,
      rows: 50,
      seed: 3,
    });
    await Deno.writeTextFile(join(dir, "config.yaml"), config(""));
    const run = await runCollectorProcess(["run", "--config", join(dir, "config.yaml")], {
      env: { SECLAKE_CGROUP_ROOT: cg },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.split("\n").filter((l) => l).length, file.rows);
    // 1 GiB less a tenth of it.
    const limit = 1073741824 - Math.floor(1073741824 / 10);
    assert.match(
      run.stderr,
      new RegExp(`Memory limit ${limit} bytes \\(from cgroup; container limit 1073741824 bytes\\)`),
    );

    // The setting wins over the cgroup, and is what is logged.
    await Deno.writeTextFile(join(dir, "config.yaml"), config("\n  memory_limit: 300MiB"));
    await Deno.remove(join(dir, "state"), { recursive: true });
    const set = await runCollectorProcess(["run", "--config", join(dir, "config.yaml")], {
      env: { SECLAKE_CGROUP_ROOT: cg },
    });
    assert.equal(set.code, 0, set.stderr);
    assert.match(
      set.stderr,
      new RegExp(
        `Memory limit ${300 * MiB} bytes \\(from setting; container limit 1073741824 bytes\\)`,
      ),
    );

    // No cgroup files: no limit.
    await Deno.writeTextFile(join(dir, "config.yaml"), config(""));
    await Deno.remove(join(dir, "state"), { recursive: true });
    const none = await runCollectorProcess(["run", "--config", join(dir, "config.yaml")], {
      env: { SECLAKE_CGROUP_ROOT: join(dir, "nowhere") },
    });
    assert.equal(none.code, 0, none.stderr);
    assert.match(
      none.stderr,
      /Memory limit none \(from none; container limit none\): 1 decode threads.*a row group may need any size/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("memory budget: a row group larger than the budget fails with DataError 613", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seclake-budget-" });
  try {
    // One large row group, and a small object that fits.
    await writeFile(join(dir, "lake", KEY_DIR, "big.gz.parquet"), {
      classUid: 6003,
      rows: 4000,
      rowGroupSize: 4000,
      seed: 5,
    });
    const small = await writeFile(join(dir, "lake", KEY_DIR, "small.gz.parquet"), {
      classUid: 6003,
      rows: 20,
      seed: 6,
    });
    // What the base and the smallest output leave for a row group: 200 KiB.
    const room = 200 * 1024;
    const limit = BASE_BYTES + 2 * MiB + room;
    for (const threads of [0, 1]) {
      await Deno.remove(join(dir, "state"), { recursive: true }).catch(() => {});
      await Deno.writeTextFile(
        join(dir, "config.yaml"),
        config(`\n  memory_limit: ${limit}`).replace(
          "decode_threads: 1",
          `decode_threads: ${threads}`,
        ),
      );
      const run = await runCollectorProcess(["run", "--config", join(dir, "config.yaml")], {
        env: { SECLAKE_CGROUP_ROOT: join(dir, "nowhere") },
      });
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stdout.split("\n").filter((l) => l).length, small.rows);
      assert.match(run.stderr, /a row group may need at most 204800 bytes/);
      assert.match(
        run.stderr,
        /big\.gz\.parquet: row group 0 needs \d+ bytes to decode \(\d+ compressed, \d+ uncompressed\), more than the 204800 bytes the memory budget leaves for one row group/,
      );
      assert.match(run.stderr, /DataError 613/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
