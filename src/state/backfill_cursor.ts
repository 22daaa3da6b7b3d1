/**
 * Where a backfill stands, in the input's state directory (`backfill.json`, or one file per
 * `seclake backfill` job): per partition prefix (`.../eventDay=YYYYMMDD/`), the last key such
 * that it and every key before it in that partition are completed, and whether the partition is
 * done; and the last day whose partitions are all done, so that older entries can be dropped
 * and the file stays small. The cursor belongs to one job (bucket, start date,
 * `reset_persistence_auth`, ...): when the job changes, the backfill starts again from its new
 * start. Completed objects themselves are in the state store, which also dedupes objects past
 * the cursor. Writes are atomic (temporary file, fsync, rename) and coalesced.
 * @module
 */
import { join } from "node:path";
import { CollectorError } from "../errors.ts";
import { ensureDir, readIfExists, setAside, writeAtomic } from "./atomic.ts";

/** What one partition of the backfill has done. */
export interface PartitionCursor {
  /** The last key completed with every key before it (in listing order). */
  readonly last?: string;
  /** Every object of the partition is completed. */
  readonly done?: boolean;
}

/** Options for {@link BackfillCursor.open}. */
export interface CursorOptions {
  /**
   * What the backfill is (bucket, start, filters...): any JSON value. A cursor saved for
   * another job is discarded.
   */
  job: unknown;
  /** File name in the state directory. Default `backfill.json`. */
  file?: string;
  /** Shortest time between two writes, in ms; `flush()` writes at once. Default 1000. */
  minWriteIntervalMs?: number;
  /** Don't create or write anything (dry runs). Default false. */
  readOnly?: boolean;
}

/** What opening the cursor found. */
export interface CursorOpenReport {
  /** A cursor of another job was found and discarded. */
  readonly restarted: boolean;
  /** The file was corrupt and set aside. */
  readonly corrupt?: CollectorError;
}

interface CursorFile {
  version: 1;
  job: unknown;
  /** Every partition of every day up to and including this one (YYYYMMDD) is done. */
  done_through?: string;
  partitions: Record<string, PartitionCursor>;
}

interface WriteOptions {
  minWriteIntervalMs: number;
  readOnly: boolean;
}

const DAY_IN_PREFIX = /\/event(?:Day|Hour)=(\d{8})\d*\/$/;

/** The persisted position of one backfill job. */
export class BackfillCursor {
  /** The file's path. */
  readonly path: string;
  #data: CursorFile;
  #o: WriteOptions;
  #dirty = false;
  #writing?: Promise<void>;
  #timer?: ReturnType<typeof setTimeout>;
  #lastWrite = 0;

  private constructor(path: string, data: CursorFile, o: WriteOptions) {
    this.path = path;
    this.#data = data;
    this.#o = o;
  }

  /** Opens the cursor of `options.job` in `dir` (creating the directory unless read-only). */
  static async open(
    dir: string,
    options: CursorOptions,
  ): Promise<{ cursor: BackfillCursor; report: CursorOpenReport }> {
    const readOnly = options.readOnly ?? false;
    if (!readOnly) await ensureDir(dir);
    const path = join(dir, options.file ?? "backfill.json");
    const job = JSON.parse(JSON.stringify(options.job ?? null));
    const fresh: CursorFile = { version: 1, job, partitions: {} };
    let corrupt: CollectorError | undefined;
    let restarted = false;
    let data = fresh;
    const text = readOnly
      ? await readIfExists(path).catch(() => undefined)
      : await readIfExists(path);
    if (text !== undefined) {
      try {
        const v = JSON.parse(text) as CursorFile;
        if (v?.version !== 1 || typeof v.partitions !== "object" || v.partitions === null) {
          throw new Error("not a backfill cursor");
        }
        if (stableJson(v.job) === stableJson(job)) data = v;
        else restarted = true;
      } catch (e) {
        const to = readOnly ? path : await setAside(path);
        corrupt = new CollectorError(
          "STATE_CORRUPT",
          `State file ${path} is corrupt (${
            e instanceof Error ? e.message : e
          }); set aside as ${to}`,
          { cause: e, context: { path, moved_to: to } },
        );
      }
    }
    const cursor = new BackfillCursor(path, data, {
      minWriteIntervalMs: options.minWriteIntervalMs ?? 1000,
      readOnly,
    });
    return { cursor, report: { restarted, corrupt } };
  }

  /**
   * Whether `dir` holds a readable cursor of `job` (file `file`, default `backfill.json`): the
   * job began there. Reads synchronously, for the configuration check; false when it cannot tell.
   */
  static hasJob(dir: string, job: unknown, file = "backfill.json"): boolean {
    try {
      const path = join(dir, file);
      // A plain file of cursor size only: nothing that could block or grow without end.
      const info = Deno.lstatSync(path);
      if (!info.isFile || info.size > MAX_CURSOR_BYTES) return false;
      const v = JSON.parse(Deno.readTextFileSync(path)) as CursorFile;
      return v?.version === 1 && typeof v.partitions === "object" && v.partitions !== null &&
        stableJson(v.job) === stableJson(JSON.parse(JSON.stringify(job ?? null)));
    } catch {
      return false;
    }
  }

  /** The last day (YYYYMMDD) whose partitions are all done, if any. */
  get doneThrough(): string | undefined {
    return this.#data.done_through;
  }

  /** Partitions with an entry. */
  get size(): number {
    return Object.keys(this.#data.partitions).length;
  }

  /** What is known of `prefix`. */
  get(prefix: string): PartitionCursor {
    const day = DAY_IN_PREFIX.exec(prefix)?.[1];
    const through = this.#data.done_through;
    if (day !== undefined && through !== undefined && day <= through) return { done: true };
    return this.#data.partitions[prefix] ?? {};
  }

  /** Records that `last` and every key of `prefix` before it are completed. */
  advance(prefix: string, last: string | undefined, done = false): Promise<void> {
    const before = this.#data.partitions[prefix];
    if (last === undefined) last = before?.last;
    if (before?.last !== undefined && last !== undefined && last < before.last) last = before.last;
    this.#data.partitions[prefix] = {
      ...(last !== undefined ? { last } : {}),
      ...(done || before?.done ? { done: true } : {}),
    };
    return this.#schedule();
  }

  /**
   * Records that every partition of every day up to and including `day` (YYYYMMDD) is done;
   * their entries are dropped.
   */
  doneThroughDay(day: string): Promise<void> {
    if (this.#data.done_through !== undefined && day <= this.#data.done_through) {
      return Promise.resolve();
    }
    this.#data.done_through = day;
    for (const prefix of Object.keys(this.#data.partitions)) {
      const d = DAY_IN_PREFIX.exec(prefix)?.[1];
      if (d !== undefined && d <= day) delete this.#data.partitions[prefix];
    }
    return this.#schedule();
  }

  #schedule(): Promise<void> {
    if (this.#o.readOnly) return Promise.resolve();
    this.#dirty = true;
    const wait = this.#lastWrite + this.#o.minWriteIntervalMs - Date.now();
    if (wait <= 0 && !this.#writing) return this.#write();
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#write().catch(() => {});
    }, Math.max(0, wait));
    return Promise.resolve();
  }

  /** Writes the cursor now if anything changed (waits for a write in progress). */
  async flush(): Promise<void> {
    if (this.#o.readOnly) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty = true;
    await this.#write();
  }

  /** Writes pending changes and stops the write timer. */
  async close(): Promise<void> {
    if (this.#timer !== undefined || this.#dirty) await this.flush();
    else await this.#writing;
  }

  #write(): Promise<void> {
    if (this.#writing) return this.#writing.then(() => (this.#dirty ? this.#write() : undefined));
    this.#writing = (async () => {
      try {
        while (this.#dirty) {
          this.#dirty = false;
          this.#lastWrite = Date.now();
          await writeAtomic(this.path, JSON.stringify(this.#data) + "\n");
        }
      } finally {
        this.#writing = undefined;
      }
    })();
    return this.#writing;
  }
}

/** Largest cursor file {@link BackfillCursor.hasJob} reads. */
const MAX_CURSOR_BYTES = 64 * 1024 * 1024;

/** JSON with object keys sorted, to compare jobs. */
function stableJson(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) =>
      x && typeof x === "object" && !Array.isArray(x)
        ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
        : x,
  );
}
