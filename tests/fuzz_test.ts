/**
 * Hostile input. A seeded, reproducible fuzz run feeds mutated Parquet files to both decoders
 * (`readEvents`, and `readEventLines` of the fast path, over `bufferFromBytes`) and mutated
 * notification bodies to `parseNotification`: every case must end in events or a catalogue
 * error (`CollectorError`), never another exception, never a hang (each case runs under a
 * watchdog in a worker). Then targeted cases: bodies larger than SQS allows, keys with `..`,
 * control characters or line breaks, buckets outside `allowed_buckets`, objects over
 * `max_object_bytes`, and events over `max_event_bytes` (truncated, or quarantined).
 *
 * Reproduce a run: `SECLAKE_FUZZ_SEED=<n> SECLAKE_FUZZ_CASES=<n> deno test -A tests/fuzz_test.ts`;
 * the failure message names the case number.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parquetWriteBuffer } from "hyparquet-writer";
import { idMsgParquet } from "./helpers/id_msg_parquet.ts";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import { CollectorError, isCollectorError } from "../src/errors.ts";
import type { ErrorCode } from "../src/errors.ts";
import { ConsoleOutput } from "../src/output/console.ts";
import { bufferFromBytes } from "../src/parquet/reader.ts";
import { processObject } from "../src/pipeline/object_processor.ts";
import type { ProcessObjectOptions } from "../src/pipeline/object_processor.ts";
import type { ObjectReader, OpenedObject } from "../src/pipeline/ports.ts";
import { parseNotification } from "../src/source/notification.ts";
import { LineFormatter } from "../src/transform/line.ts";
import { Obfuscator } from "../src/transform/obfuscate.ts";
import type { FuzzRequest, FuzzResult } from "./helpers/fuzz_worker.ts";
import { eventBridgeBody, s3RecordsBody, snsWrap } from "./helpers/lake.ts";

const SEED = Number(Deno.env.get("SECLAKE_FUZZ_SEED") ?? 20241010);
const CASES = Number(Deno.env.get("SECLAKE_FUZZ_CASES") ?? 0);
const PARQUET_CASES = CASES || 5_000;
const NOTIFICATION_CASES = CASES || 6_000;
/** A case still running after this long is a hang: the worker is stopped. */
const CASE_TIMEOUT_MS = 10_000;
/** A case that took longer than this did unbounded work (a run of 2^30 values takes seconds). */
const CASE_BUDGET_MS = 3_000;
const SAMPLES = new URL("../../shared/research/samples/", import.meta.url);

async function parquetSeeds(): Promise<Uint8Array[]> {
  const dir = await Deno.makeTempDir({ prefix: "seclake-fuzz-" });
  try {
    const seeds: Uint8Array[] = [];
    const specs = [
      { classUid: 6003, codec: "GZIP", layout: "avro", rowGroupSize: 6 },
      { classUid: 4001, codec: "ZSTD", layout: "standard", rowGroupSize: 20 },
      { classUid: 2004, codec: "SNAPPY", layout: "standard", rowGroupSize: 7 },
      { classUid: 4003, codec: "UNCOMPRESSED", layout: "avro", rowGroupSize: 20 },
    ] as const;
    for (const [i, s] of specs.entries()) {
      const r = await writeOcsfParquet(join(dir, `${i}.parquet`), {
        ...s,
        rows: 12,
        seed: 100 + i,
      });
      seeds.push(await Deno.readFile(r.path));
    }
    // A dictionary-encoded column and a DELTA_BYTE_ARRAY column.
    seeds.push(
      new Uint8Array(parquetWriteBuffer({
        schema: [
          { name: "root", num_children: 2 },
          { name: "d", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
          { name: "p", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
        ] as never,
        columnData: [
          {
            name: "d",
            data: Array.from({ length: 40 }, (_, i) => `v${i % 4}`),
            encoding: "RLE_DICTIONARY",
          },
          {
            name: "p",
            data: Array.from({ length: 40 }, (_, i) => `prefix/${i}`),
            encoding: "DELTA_BYTE_ARRAY",
          },
        ] as never,
        codec: "UNCOMPRESSED" as never,
      })),
    );
    // Public Security Lake samples (parquet-mr, version 1 pages), when present.
    const picks = [
      "parquet/aws-ocsf-validation/v1_ocsf-1.0.0-rc.2/ROUTE53/example3.json.gz.parquet",
      "parquet/aws-ocsf-validation/v1_ocsf-1.0.0-rc.2/VPC_FLOW/example3.gz.parquet",
      "parquet/aws-ocsf-validation/v1_ocsf-1.0.0-rc.2/CLOUD_TRAIL/authentication/CheckMfa.test.gz.parquet",
    ];
    for (const p of picks) {
      try {
        seeds.push(await Deno.readFile(new URL(p, SAMPLES)));
      } catch {
        // samples absent: generated seeds only
      }
    }
    return seeds;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function notificationSeeds(): Promise<string[]> {
  const key =
    "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=111122223333/eventDay=20240410/a.gz.parquet";
  const seeds = [
    eventBridgeBody("lake-bucket", key, { detailType: true, size: 1234, etag: "abc" }),
    eventBridgeBody("lake-bucket", key),
    s3RecordsBody("lake-bucket", [key, "ext/src/1.0/file with space.parquet"]),
    snsWrap(s3RecordsBody("lake-bucket", [key])),
    '{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"lake-bucket"}',
  ];
  try {
    for await (const e of Deno.readDir(new URL("notifications/", SAMPLES))) {
      if (e.name.endsWith(".json")) {
        seeds.push(await Deno.readTextFile(new URL(`notifications/${e.name}`, SAMPLES)));
      }
    }
  } catch {
    // samples absent
  }
  return seeds;
}

/** Runs cases [0, count) in a worker, stopping it when one case takes longer than the timeout. */
async function fuzz(
  kind: FuzzRequest["kind"],
  seeds: (Uint8Array | string)[],
  count: number,
): Promise<Map<string, number>> {
  const worker = new Worker(new URL("./helpers/fuzz_worker.ts", import.meta.url), {
    type: "module",
  });
  const tally = new Map<string, number>();
  const foreign: string[] = [];
  const slow: string[] = [];
  let current = -1;
  let since = Date.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const watchdog = setInterval(() => {
        if (current >= 0 && Date.now() - since > CASE_TIMEOUT_MS) {
          clearInterval(watchdog);
          reject(
            new Error(
              `${kind} case ${current} (seed ${SEED}) did not finish within ${CASE_TIMEOUT_MS} ms`,
            ),
          );
        }
      }, 250);
      worker.onerror = (e) => {
        clearInterval(watchdog);
        e.preventDefault();
        reject(
          new Error(`${kind} case ${current} (seed ${SEED}) crashed the worker: ${e.message}`),
        );
      };
      worker.onmessage = (
        m: MessageEvent<FuzzResult | { started: number } | { finished: true }>,
      ) => {
        const d = m.data;
        if ("started" in d) {
          current = d.started;
          since = Date.now();
        } else if ("finished" in d) {
          clearInterval(watchdog);
          resolve();
        } else {
          const key = d.outcome.startsWith("FOREIGN") ? "FOREIGN" : d.outcome;
          tally.set(key, (tally.get(key) ?? 0) + 1);
          if (key === "FOREIGN" && foreign.length < 5) foreign.push(`case ${d.n}: ${d.outcome}`);
          const ms = Date.now() - since;
          if (ms > CASE_BUDGET_MS) slow.push(`case ${d.n}: ${ms} ms (${d.outcome})`);
          current = -1;
        }
      };
      worker.postMessage({ kind, seed: SEED, from: 0, to: count, seeds } satisfies FuzzRequest);
    });
  } finally {
    worker.terminate();
  }
  assert.deepEqual(foreign, [], `${kind} cases ended in other exceptions (seed ${SEED})`);
  assert.deepEqual(slow, [], `${kind} cases took more than ${CASE_BUDGET_MS} ms (seed ${SEED})`);
  return tally;
}

Deno.test({
  name:
    `fuzz: ${PARQUET_CASES} mutated Parquet files through both decoders end in events or catalogue errors`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = performance.now();
    const tally = await fuzz("parquet", await parquetSeeds(), PARQUET_CASES);
    const total = [...tally.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, PARQUET_CASES);
    // Both kinds of ending happen: the mutations are neither all harmless nor all fatal.
    assert.ok((tally.get("events") ?? 0) > 0 && (tally.get("PARQUET_INVALID") ?? 0) > 0);
    console.log(
      `parquet fuzz (seed ${SEED}):`,
      Object.fromEntries(tally),
      `${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
  },
});

Deno.test({
  name:
    `fuzz: ${NOTIFICATION_CASES} mutated notification bodies end in a notification or a catalogue error`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = performance.now();
    const tally = await fuzz("notification", await notificationSeeds(), NOTIFICATION_CASES);
    const total = [...tally.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, NOTIFICATION_CASES);
    assert.ok((tally.get("objects") ?? 0) > 0 && (tally.get("NOTIFICATION_INVALID") ?? 0) > 0);
    console.log(
      `notification fuzz (seed ${SEED}):`,
      Object.fromEntries(tally),
      `${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
  },
});

// ---- targeted hostile notifications ------------------------------------------------------------

function refused(body: string, code: ErrorCode, id: number, options = {}) {
  assert.throws(() => parseNotification(body, options), (e: unknown) => {
    assert.ok(isCollectorError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.id, id);
    assert.ok(!e.message.includes("\n"), "the message stays on one line");
    return true;
  });
}

Deno.test("hostile notifications are refused with their ids", () => {
  const LAKE = "aws-security-data-lake-us-east-1-fuzz";
  const big = eventBridgeBody(LAKE, "a.parquet").replace(
    "a.parquet",
    "a".repeat(262_145) + ".parquet",
  );
  refused(big, "NOTIFICATION_TOO_LARGE", 608);
  refused("é".repeat(131_073), "NOTIFICATION_TOO_LARGE", 608); // 262,146 bytes in UTF-8
  for (
    const key of [
      "aws/../../etc/passwd.parquet",
      "../x.parquet",
      "a/./b.parquet",
      "a\nb.parquet",
      "a\rb.parquet",
      "a\u0000b.parquet",
      "a\u001bb.parquet",
      "a\u2028b.parquet",
      "",
      "k".repeat(1100) + ".parquet",
    ]
  ) {
    refused(eventBridgeBody(LAKE, key), "NOTIFICATION_KEY_INVALID", 609);
  }
  // S3 Records keys are URL-encoded: the decoded key is checked.
  refused(s3RecordsBody(LAKE, ["a/../b.parquet"]), "NOTIFICATION_KEY_INVALID", 609);
  refused(
    JSON.stringify({
      Records: [{
        eventName: "ObjectCreated:Put",
        s3: { bucket: { name: LAKE }, object: { key: "a%0Ab.parquet" } },
      }],
    }),
    "NOTIFICATION_KEY_INVALID",
    609,
  );
  const allowed = { allowedBuckets: [LAKE] };
  refused(
    eventBridgeBody("attacker-bucket", "a.parquet"),
    "NOTIFICATION_BUCKET_NOT_ALLOWED",
    610,
    allowed,
  );
  refused(
    snsWrap(s3RecordsBody("attacker-bucket", ["a.parquet"])),
    "NOTIFICATION_BUCKET_NOT_ALLOWED",
    610,
    allowed,
  );
  refused(eventBridgeBody("bad/bucket", "a.parquet"), "NOTIFICATION_BUCKET_NOT_ALLOWED", 610);
  // Envelopes nested without end, deep arrays, other types: 600.
  let nested = eventBridgeBody(LAKE, "a.parquet");
  for (let i = 0; i < 4; i++) nested = snsWrap(nested);
  refused(nested, "NOTIFICATION_INVALID", 600);
  refused("[".repeat(100_000), "NOTIFICATION_INVALID", 600);
  refused(undefined as unknown as string, "NOTIFICATION_INVALID", 600);
  // The allowed bucket and an ordinary key pass; a name with dots inside is fine.
  const ok = parseNotification(eventBridgeBody(LAKE, "a/b..c/d.parquet"), allowed);
  assert.equal(ok.kind === "objects" && ok.objects[0]!.key, "a/b..c/d.parquet");
});

// ---- object limits ----------------------------------------------------------------------------

/** An ObjectReader over bytes in memory that counts reads. */
function memoryReader(bytes: Uint8Array, reportedSize = bytes.length) {
  const counts = { opens: 0, slices: 0 };
  const reader: ObjectReader = {
    requests: 0,
    open(): Promise<OpenedObject> {
      counts.opens++;
      const inner = bufferFromBytes(bytes);
      return Promise.resolve({
        size: reportedSize,
        etag: "e",
        requests: 0,
        buffer: {
          byteLength: inner.byteLength,
          slice: (s: number, e?: number) => {
            counts.slices++;
            return inner.slice(s, e);
          },
        },
      } as OpenedObject);
    },
  };
  return { reader, counts };
}

async function deliver(bytes: Uint8Array, options: Partial<ProcessObjectOptions>, size?: number) {
  const text: string[] = [];
  const out = new ConsoleOutput("mem", {
    write: (p: Uint8Array) => {
      text.push(new TextDecoder().decode(p));
      return Promise.resolve(p.length);
    },
  });
  const { reader, counts } = memoryReader(bytes, size);
  const outcome = await processObject({ bucket: "b", key: "k.parquet", size }, {
    reader,
    outputs: [out],
    formatter: new LineFormatter({ hostname: "h", tag: "a.b.c", pullingId: "1700000000000" }),
    ...options,
  });
  const lines = text.join("").split("\n").filter((l) => l);
  return { outcome, lines, counts };
}

Deno.test("objects over max_object_bytes are refused by the size the reader reports, never the notification's (DataError 603)", async () => {
  const bytes = idMsgParquet([{ id: 1, msg: "x" }]);
  // A notification overstating the size does not refuse an object that fits.
  const { reader: honest } = memoryReader(bytes);
  const overstated = await processObject({ bucket: "b", key: "k.parquet", size: 5000 }, {
    reader: honest,
    outputs: [],
    formatter: new LineFormatter({ hostname: "h", tag: "a.b.c" }),
    maxObjectBytes: 1024,
  });
  assert.equal(overstated.ok, true);
  // One understating it does not let a larger object through: the opened size counts.
  const { reader, counts } = memoryReader(bytes, 10_000);
  const understated = await processObject({ bucket: "b", key: "k.parquet", size: 1 }, {
    reader,
    outputs: [],
    formatter: new LineFormatter({ hostname: "h", tag: "a.b.c" }),
    maxObjectBytes: 1024,
  });
  assert.equal(!understated.ok && understated.error.code, "OBJECT_TOO_LARGE");
  assert.match(
    !understated.ok ? understated.error.message : "",
    /of 10000 bytes is larger than max_object_bytes \(1024 bytes\)/,
  );
  assert.deepEqual(counts, { opens: 1, slices: 0 });
  assert.equal((await deliver(bytes, { maxObjectBytes: 1024 })).outcome.ok, true);
});

Deno.test("events over max_event_bytes are sent truncated and marked, on every path (fast, transform, obfuscation rules)", async () => {
  const rows = [
    { id: 1, msg: "small" },
    { id: 2, msg: "x".repeat(5000) },
    { id: 3, msg: "é".repeat(700) }, // 1,400 bytes in UTF-8
  ];
  const bytes = idMsgParquet(rows);
  const truncated: number[] = [];
  const rules = () =>
    new Obfuscator([{
      paths: ["nothing"],
      method: "mask",
      value: "m",
      hash_length: 16,
      keep_last: 4,
    }]);
  // The fast path, the object path (a transform), and obfuscation rules (the fast path's lines
  // rewritten where they are made); with a host name that holds a "{" too.
  const paths = [{}, { eventTransform: rules().transform }, { obfuscator: rules() }];
  for (const [path, hostname] of paths.flatMap((p) => [[p, "h"], [p, "web{1}"]] as const)) {
    const formatter = new LineFormatter({ hostname, tag: "a.b.c", pullingId: "1700000000000" });
    const { outcome, lines } = await deliver(bytes, {
      maxEventBytes: 1024,
      ...path,
      formatter,
      onTruncated: (n) => truncated.push(n),
    });
    assert.equal(outcome.ok, true);
    assert.equal(lines.length, 3);
    const head = ` ${hostname} a.b.c: {`;
    for (const l of lines) assert.ok(l.startsWith("<14>") && l.includes(head), l.slice(0, 80));
    const events = lines.map((l) => JSON.parse(l.slice(l.indexOf(head) + head.length - 1)));
    assert.deepEqual(events[0], { id: 1, msg: "small", "@devo_pulling_id": "1700000000000" });
    for (const [i, original] of [[1, 5000 + 20], [2, 1400 + 20]] as const) {
      assert.equal(events[i]["@seclake_truncated"], true);
      assert.ok(
        Math.abs(events[i]["@seclake_original_bytes"] - original) <= 40,
        String(events[i]["@seclake_original_bytes"]),
      );
      assert.equal(events[i].id, rows[i]!.id);
      assert.equal(events[i].msg, undefined);
      assert.equal(events[i]["@devo_pulling_id"], "1700000000000");
      assert.ok(
        new TextEncoder().encode(lines[i]!.slice(lines[i]!.indexOf(head) + head.length - 1))
          .length <= 1024 + 40,
      );
    }
  }
  assert.deepEqual(truncated, [2, 2, 2, 2, 2, 2]);
});

Deno.test("with oversized_events quarantine, an oversized event fails its object (DataError 607)", async () => {
  const bytes = idMsgParquet([{ id: 1, msg: "ok" }, { id: 2, msg: "x".repeat(3000) }]);
  const paths = [
    {},
    { eventTransform: (e: Record<string, unknown>) => e as never },
    {
      obfuscator: new Obfuscator([{
        paths: ["id"],
        method: "hash",
        hash_key: "k",
        value: "",
        hash_length: 8,
        keep_last: 4,
      }]),
    },
  ];
  for (const path of paths) {
    const { outcome } = await deliver(bytes, {
      maxEventBytes: 1024,
      oversizedEvents: "quarantine",
      ...path,
    });
    assert.equal(outcome.ok, false);
    if (!outcome.ok) {
      assert.ok(outcome.error instanceof CollectorError);
      assert.equal(outcome.error.id, 607);
      assert.equal(outcome.error.retryable, false);
      assert.match(
        outcome.error.message,
        /Event at row 1 of s3:\/\/b\/k\.parquet has \d+ bytes, more than max_event_bytes \(1024\)/,
      );
    }
  }
});
