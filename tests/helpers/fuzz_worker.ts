/**
 * The worker side of `tests/fuzz_test.ts`: builds mutated Parquet files and notification bodies
 * from seeds, deterministically from (seed, case number), feeds them to the decoders and the
 * parser, and reports each case's outcome. It posts `{ started: n }` before each case so the
 * test can stop it (and name the case) when one hangs.
 * @module
 */
/// <reference lib="deno.worker" />
import { parquetMetadata } from "hyparquet";
import { CollectorError } from "../../src/errors.ts";
import { readPageHeader } from "../../src/parquet/page_header.ts";
import { readEventLines } from "../../src/parquet/json_reader.ts";
import { bufferFromBytes, readEvents } from "../../src/parquet/reader.ts";
import { parseNotification } from "../../src/source/notification.ts";

/** What the test sends to start a run. */
export interface FuzzRequest {
  readonly kind: "parquet" | "notification";
  readonly seed: number;
  readonly from: number;
  readonly to: number;
  /** Parquet files (kind parquet) or notification bodies (kind notification). */
  readonly seeds: readonly (Uint8Array | string)[];
}

/** The outcome of one case: `events`, a catalogue code, or `FOREIGN ...` (a failure). */
export interface FuzzResult {
  readonly n: number;
  readonly outcome: string;
}

/** mulberry32: a small seeded PRNG. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}

type Rng = ReturnType<typeof rng>;

const VARINTS = [
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0x80, 0x80, 0x80, 0x80, 0x08],
  [0xfe, 0xff, 0xff, 0xff, 0x07],
  [0xff, 0xff, 0xff, 0x7f],
  [0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
  [0x00],
  [0x7f],
];
const BYTES = [0x00, 0x01, 0x02, 0x0f, 0x15, 0x16, 0x1c, 0x7f, 0x80, 0xfe, 0xff];

/** Where the pages of `bytes` start, and where their bodies (levels, runs) start. */
function pageStarts(bytes: Uint8Array): number[] {
  const out: number[] = [];
  try {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const g of parquetMetadata(bytes.slice()).row_groups) {
      for (const c of g.columns) {
        const m = c.meta_data!;
        let off = Number(m.dictionary_page_offset || m.data_page_offset);
        const end = off + Number(m.total_compressed_size);
        while (off < end - 1) {
          const h = readPageHeader(view, off);
          out.push(off, off + h.headerBytes);
          off += h.headerBytes + h.compressed;
        }
      }
    }
  } catch {
    // a seed we cannot walk: random positions only
  }
  return out;
}

const hotSpots = new WeakMap<Uint8Array, number[]>();

/** A mutated copy of one of `seeds`. */
export function mutateParquet(r: Rng, seeds: readonly Uint8Array[]): Uint8Array {
  const seed = r.pick(seeds);
  let hot = hotSpots.get(seed);
  if (!hot) hotSpots.set(seed, hot = pageStarts(seed));
  let b = seed.slice();
  const ops = 1 + r.int(3);
  // A third of the mutations hit the footer (the last fifth), where the metadata lives, a third
  // the first bytes of a column chunk (page headers, level runs), a third anywhere.
  const pos = () => {
    const x = r.next();
    if (x < 0.33) return Math.max(0, b.length - 1 - r.int(Math.max(1, b.length / 5)));
    if (x < 0.66 && hot!.length > 0) return Math.min(b.length - 1, r.pick(hot!) + r.int(12));
    return r.int(b.length);
  };
  for (let k = 0; k < ops && b.length > 0; k++) {
    switch (r.int(12)) {
      case 10:
      case 11: {
        // A page body starts with the runs of its levels (or values): make one run huge.
        if (hot.length === 0) break;
        const v = r.pick(VARINTS);
        const p = Math.min(hot[r.int(hot.length >> 1) * 2 + 1]! + r.int(3), b.length - 1);
        b.set(v.slice(0, b.length - p), p);
        break;
      }
      case 0:
      case 1: {
        const p = pos();
        b[p] = b[p]! ^ (1 << r.int(8));
        break;
      }
      case 2:
        b[pos()] = r.pick(BYTES);
        break;
      case 3: {
        const v = r.pick(VARINTS);
        const p = Math.min(pos(), Math.max(0, b.length - v.length));
        b.set(v.slice(0, b.length - p), p);
        break;
      }
      case 4: {
        if (b.length < 4) break;
        const p = Math.min(pos(), b.length - 4);
        const v = r.pick([0, 0xffffffff, 0x7fffffff, b.length, b.length + 1, r.int(1 << 30)]);
        new DataView(b.buffer).setUint32(p, v >>> 0, true);
        break;
      }
      case 5:
        b = b.slice(0, r.int(b.length));
        break;
      case 6: {
        const p = r.int(b.length);
        const n = 1 + r.int(64);
        b = new Uint8Array([...b.subarray(0, p), ...b.subarray(p + n)]);
        break;
      }
      case 7: {
        const p = r.int(b.length);
        const from = r.int(b.length);
        const piece = b.slice(from, from + 1 + r.int(64));
        b = new Uint8Array([...b.subarray(0, p), ...piece, ...b.subarray(p)]);
        break;
      }
      case 8: {
        const other = r.pick(seeds);
        const p = r.int(b.length);
        const from = r.int(other.length);
        const piece = other.subarray(from, from + 1 + r.int(256));
        b.set(piece.subarray(0, b.length - p), p);
        break;
      }
      case 9:
        if (b.length >= 8) {
          new DataView(b.buffer).setUint32(
            b.length - 8,
            r.pick([b.length, b.length - 8, 0xffffffff, r.int(b.length), r.int(1 << 24)]),
            true,
          );
        }
        break;
    }
  }
  return b;
}

const HOSTILE_STRINGS = [
  "",
  "..",
  "a/../b.parquet",
  "./x.parquet",
  "x\n.parquet",
  "x\u0000y.parquet",
  "line\u2028sep.parquet",
  "%2e%2e/%2e%2e/etc/passwd.parquet",
  "%zz.parquet",
  "k".repeat(2000) + ".parquet",
  "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/a.parquet",
  "other-bucket",
  "Bucket With Spaces",
  "\u00e9\u00e8.parquet",
];

function randomValue(r: Rng, depth: number): unknown {
  switch (r.int(depth > 3 ? 6 : 9)) {
    case 0:
      return null;
    case 1:
      return r.int(2) === 0;
    case 2:
      return r.pick([0, -1, 1.5, 2 ** 53 + 2, 1e308, -0]);
    case 3:
    case 4:
      return r.pick(HOSTILE_STRINGS);
    case 5:
      return String.fromCharCode(...Array.from({ length: r.int(20) }, () => r.int(0x3000)));
    case 6:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    case 7:
      return Object.fromEntries(
        Array.from({ length: r.int(4) }, () => [r.pick(KEYS), randomValue(r, depth + 1)]),
      );
    default:
      return {
        s3: {
          bucket: { name: r.pick(HOSTILE_STRINGS) },
          object: { key: r.pick(HOSTILE_STRINGS), size: r.pick([1, -1, 1e300]) },
        },
      };
  }
}

const KEYS = [
  "detail",
  "bucket",
  "object",
  "key",
  "name",
  "size",
  "etag",
  "Records",
  "s3",
  "eventName",
  "detail-type",
  "source",
  "Type",
  "Message",
  "TopicArn",
  "Event",
];

function mutateTree(r: Rng, node: unknown, depth: number): unknown {
  if (r.next() < 0.15) return randomValue(r, depth);
  if (Array.isArray(node)) {
    const out = node.map((x) => mutateTree(r, x, depth + 1));
    if (r.next() < 0.1) out.push(randomValue(r, depth + 1));
    if (r.next() < 0.1) out.length = r.int(out.length + 1);
    return out;
  }
  if (node !== null && typeof node === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (r.next() < 0.05) continue;
      out[r.next() < 0.03 ? r.pick(KEYS) : k] = mutateTree(r, v, depth + 1);
    }
    return out;
  }
  if (typeof node === "string" && r.next() < 0.3) return r.pick(HOSTILE_STRINGS);
  return node;
}

/** A mutated copy of one of `seeds` (JSON bodies). */
export function mutateNotification(r: Rng, seeds: readonly string[]): string {
  let body = r.pick(seeds);
  switch (r.int(8)) {
    case 0:
    case 1:
    case 2: {
      let doc: unknown;
      try {
        doc = JSON.parse(body);
      } catch {
        doc = body;
      }
      body = JSON.stringify(mutateTree(r, doc, 0)) ?? "null";
      break;
    }
    case 3: {
      const chars = [...body];
      for (let k = 0, n = 1 + r.int(4); k < n && chars.length; k++) {
        chars[r.int(chars.length)] = String.fromCharCode(r.int(0x80));
      }
      body = chars.join("");
      break;
    }
    case 4:
      body = body.slice(0, r.int(body.length + 1));
      break;
    case 5: // SNS envelopes, possibly nested
      for (let k = 0, n = 1 + r.int(4); k < n; k++) {
        body = JSON.stringify({ Type: "Notification", TopicArn: "arn:x", Message: body });
      }
      break;
    case 6: // deep nesting or a huge body
      body = r.next() < 0.5
        ? "[".repeat(50_000 + r.int(50_000)) + "]".repeat(r.int(100_000))
        : JSON.stringify({
          detail: { bucket: { name: "b" }, object: { key: "x".repeat(300_000) } },
        });
      break;
    default: {
      const doc = JSON.parse(r.pick(seeds));
      body = JSON.stringify(mutateTree(r, doc, 0)).replace(
        /"key":"/g,
        `"key":"${r.pick(["..", "\\n", "\\u0000", "./"])}/`,
      );
    }
  }
  return body;
}

async function parquetCase(bytes: Uint8Array, json: boolean): Promise<string> {
  try {
    let n = 0;
    if (json) {
      // Half of the cases read column chunks in windows rather than whole row groups.
      const groupReadBytes = bytes.length % 2 === 0 ? undefined : 0;
      const lines = readEventLines(bufferFromBytes(bytes), { sliceBytes: 1 << 16, groupReadBytes });
      for await (const s of lines) {
        n += s.rows;
      }
    } else {
      for await (const s of readEvents(bufferFromBytes(bytes), { sliceRows: 500 })) {
        n += s.events.length;
      }
    }
    return "events";
  } catch (e) {
    return e instanceof CollectorError ? e.code : `FOREIGN ${describe(e)}`;
  }
}

function describe(e: unknown): string {
  try {
    return e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
  } catch {
    return "an unprintable value";
  }
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function notificationCase(body: string, allowed?: string[]): string {
  try {
    const n = parseNotification(body, allowed ? { allowedBuckets: allowed } : {});
    if (n.kind === "objects") {
      for (const o of [...n.objects, ...n.skipped]) {
        if (o.key !== undefined) {
          if (o.key === "" || CONTROL.test(o.key) || o.key.split("/").includes("..")) {
            return `FOREIGN accepted key ${JSON.stringify(o.key)}`;
          }
        }
        if (allowed && o.bucket !== undefined && !allowed.includes(o.bucket)) {
          return `FOREIGN accepted bucket ${JSON.stringify(o.bucket)}`;
        }
      }
    }
    return n.kind;
  } catch (e) {
    return e instanceof CollectorError ? e.code : `FOREIGN ${describe(e)}`;
  }
}

self.onmessage = async (m: MessageEvent<FuzzRequest>) => {
  const req = m.data;
  for (let n = req.from; n < req.to; n++) {
    self.postMessage({ started: n });
    const r = rng((req.seed ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0);
    let outcome: string;
    if (req.kind === "parquet") {
      const bytes = mutateParquet(r, req.seeds as Uint8Array[]);
      const a = await parquetCase(bytes, false);
      const b = await parquetCase(bytes, true);
      outcome = a.startsWith("FOREIGN") ? a : b.startsWith("FOREIGN") ? `${b} (fast path)` : a;
    } else {
      const body = mutateNotification(r, req.seeds as string[]);
      outcome = notificationCase(body, r.next() < 0.5 ? ["lake-bucket"] : undefined);
    }
    self.postMessage({ n, outcome } satisfies FuzzResult);
  }
  self.postMessage({ finished: true });
};
