/**
 * The collector's persistent state, in `globals.persistence.directory_name`:
 * - `completed.json` + `completed.jsonl`: the objects whose every event was confirmed (bucket,
 *   key, ETag), kept for the queue's retention period and bounded in size, so a repeated
 *   notification sends nothing. A snapshot plus an append-only journal, each append synced.
 * - `checkpoints.json`: per object in progress, the number of leading rows confirmed, so a
 *   message that comes back (after a crash, to this or another instance) resumes after them.
 * - `quarantine.jsonl`: poison messages set aside, with the reason.
 * - `state.json`: the `reset_persistence_auth` value the state belongs to.
 * Corrupt files are reported (`StateError 701`) and set aside; they never stop the collector.
 * @module
 */
import { join } from "node:path";
import { CollectorError } from "../errors.ts";
import { appendSynced, ensureDir, readIfExists, setAside, writeAtomic } from "./atomic.ts";

/** Identifies one version of one S3 object. */
export interface ObjectId {
  readonly bucket: string;
  readonly key: string;
  readonly etag?: string;
}

/** A completed object. */
export interface CompletedEntry {
  readonly etag?: string;
  /** When it completed, epoch ms. */
  readonly at: number;
  /** Events it delivered. */
  readonly events: number;
}

/** A poison message set aside. */
export interface QuarantineRecord {
  readonly time: string;
  readonly message_id: string;
  readonly receive_count: number;
  readonly reason: string;
  readonly error_id?: number;
  /**
   * Events of the message's objects delivered (confirmed by every output) before the failure,
   * in the receive that quarantined it; they are not taken back.
   */
  readonly delivered_events?: number;
  readonly body: string;
}

/** Options for {@link StateStore.open}. */
export interface StateStoreOptions {
  /** The configured `reset_persistence_auth`; a change clears the state. */
  resetAuth?: string;
  /** How long completed objects are remembered. Default 14 days (SQS's longest retention). */
  retentionMs?: number;
  /** Most completed objects remembered; the oldest go first. Default 2,000,000. */
  maxCompleted?: number;
  /** Journal lines before the snapshot is rewritten. Default 10,000. */
  compactEvery?: number;
  /** Clock. */
  now?: () => number;
}

/** What opening the store found. */
export interface OpenReport {
  /** The state was cleared because `reset_persistence_auth` changed. */
  readonly reset: boolean;
  /** Files found corrupt and set aside. */
  readonly corrupt: CollectorError[];
}

const DAY = 24 * 60 * 60 * 1000;
const idOf = (o: { bucket: string; key: string }) => `${o.bucket}/${o.key}`;

/** The file-backed state of one collector instance (or several sharing the directory). */
export class StateStore {
  readonly dir: string;
  #completed = new Map<string, CompletedEntry>();
  #checkpoints = new Map<string, { bucket: string; key: string; etag?: string; rows: number }>();
  #journalLines = 0;
  #o: Required<Omit<StateStoreOptions, "resetAuth">>;
  #queue: Promise<unknown> = Promise.resolve();
  #checkpointDirty = false;
  #checkpointWriting?: Promise<void>;

  private constructor(dir: string, options: StateStoreOptions) {
    this.dir = dir;
    this.#o = {
      retentionMs: options.retentionMs ?? 14 * DAY,
      maxCompleted: options.maxCompleted ?? 2_000_000,
      compactEvery: options.compactEvery ?? 10_000,
      now: options.now ?? Date.now,
    };
  }

  /** Opens (creating when needed) the state in `dir`. */
  static async open(
    dir: string,
    options: StateStoreOptions = {},
  ): Promise<{ store: StateStore; report: OpenReport }> {
    await ensureDir(dir);
    const store = new StateStore(dir, options);
    const corrupt: CollectorError[] = [];
    const meta = await store.#readJson("state.json", corrupt) as
      | { reset_persistence_auth?: string }
      | undefined;
    const auth = options.resetAuth ?? "";
    const reset = meta !== undefined && (meta.reset_persistence_auth ?? "") !== auth;
    if (reset) {
      for (const f of ["completed.json", "completed.jsonl", "checkpoints.json"]) {
        await Deno.remove(join(dir, f)).catch(() => {});
      }
    }
    if (meta === undefined || reset) {
      await writeAtomic(
        join(dir, "state.json"),
        JSON.stringify({ version: 1, reset_persistence_auth: auth }) + "\n",
      );
    }
    await store.#load(corrupt);
    await store.#compact();
    return { store, report: { reset, corrupt } };
  }

  async #readJson(name: string, corrupt: CollectorError[]): Promise<unknown> {
    const path = join(this.dir, name);
    const text = await readIfExists(path);
    if (text === undefined) return undefined;
    try {
      const v = JSON.parse(text);
      if (typeof v !== "object" || v === null) throw new Error("not a JSON object");
      return v;
    } catch (e) {
      corrupt.push(await this.#corrupt(path, e));
      return undefined;
    }
  }

  async #corrupt(path: string, e: unknown): Promise<CollectorError> {
    const to = await setAside(path);
    return new CollectorError(
      "STATE_CORRUPT",
      `State file ${path} is corrupt (${e instanceof Error ? e.message : e}); set aside as ${to}`,
      { cause: e, context: { path, moved_to: to } },
    );
  }

  async #load(corrupt: CollectorError[]) {
    const snap = await this.#readJson("completed.json", corrupt) as
      | { objects?: [string, CompletedEntry][] }
      | undefined;
    for (const [id, e] of snap?.objects ?? []) this.#completed.set(id, e);
    const journalPath = join(this.dir, "completed.jsonl");
    const journal = await readIfExists(journalPath);
    if (journal !== undefined) {
      const lines = journal.split("\n");
      // The last line may be torn by a crash mid-append: it is simply not there.
      if (lines.at(-1) !== "") lines.pop();
      try {
        for (const line of lines) {
          if (!line) continue;
          const r = JSON.parse(line) as { id: string; etag?: string; at: number; events: number };
          if (typeof r.id !== "string" || typeof r.at !== "number") throw new Error("bad record");
          this.#completed.set(r.id, { etag: r.etag, at: r.at, events: r.events ?? 0 });
          this.#journalLines++;
        }
      } catch (e) {
        corrupt.push(await this.#corrupt(journalPath, e));
      }
    }
    const cps = await this.#readJson("checkpoints.json", corrupt) as
      | { objects?: { bucket: string; key: string; etag?: string; rows: number }[] }
      | undefined;
    for (const c of cps?.objects ?? []) {
      if (typeof c.rows === "number" && c.rows > 0) this.#checkpoints.set(idOf(c), c);
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(fn);
    this.#queue = p.catch(() => {});
    return p;
  }

  /** Drops entries past retention or beyond the bound, writes the snapshot, empties the journal. */
  #compact(): Promise<void> {
    return this.#serial(async () => {
      const cutoff = this.#o.now() - this.#o.retentionMs;
      let entries = [...this.#completed].filter(([, e]) => e.at >= cutoff);
      if (entries.length > this.#o.maxCompleted) {
        entries.sort((a, b) => a[1].at - b[1].at);
        entries = entries.slice(entries.length - this.#o.maxCompleted);
      }
      this.#completed = new Map(entries);
      await writeAtomic(join(this.dir, "completed.json"), JSON.stringify({ objects: entries }));
      await writeAtomic(join(this.dir, "completed.jsonl"), "");
      this.#journalLines = 0;
    });
  }

  /** The completion of `o`, when it completed (with the same ETag, when both are known). */
  completed(o: ObjectId): CompletedEntry | undefined {
    const e = this.#completed.get(idOf(o));
    if (!e) return undefined;
    if (o.etag !== undefined && e.etag !== undefined && o.etag !== e.etag) return undefined;
    return e;
  }

  /** Number of completed objects remembered. */
  get completedCount(): number {
    return this.#completed.size;
  }

  /** Records that every event of `o` was confirmed; durable when the promise resolves. */
  async markCompleted(o: ObjectId, events: number): Promise<void> {
    const id = idOf(o);
    const entry = { etag: o.etag, at: this.#o.now(), events };
    await this.#serial(() =>
      appendSynced(join(this.dir, "completed.jsonl"), JSON.stringify({ id, ...entry }) + "\n")
    );
    this.#completed.set(id, entry);
    this.#journalLines++;
    if (this.#checkpoints.delete(id)) await this.#writeCheckpoints();
    if (this.#journalLines >= this.#o.compactEvery) await this.#compact();
  }

  /** Leading rows of `o` already confirmed (0 when none, or when the object changed). */
  checkpoint(o: ObjectId): number {
    const c = this.#checkpoints.get(idOf(o));
    if (!c) return 0;
    if (o.etag !== undefined && c.etag !== undefined && o.etag !== c.etag) return 0;
    return c.rows;
  }

  /** Records that the first `rows` rows of `o` are confirmed. */
  async saveCheckpoint(o: ObjectId, rows: number): Promise<void> {
    this.#checkpoints.set(idOf(o), { bucket: o.bucket, key: o.key, etag: o.etag, rows });
    await this.#writeCheckpoints();
  }

  /**
   * Writes checkpoints.json, coalescing saves that arrive while one is being written: they share
   * the writer, which writes once more after the current write (resolving when their state is
   * on disk), instead of queueing one write each.
   */
  #writeCheckpoints(): Promise<void> {
    this.#checkpointDirty = true;
    if (this.#checkpointWriting) return this.#checkpointWriting;
    this.#checkpointWriting = (async () => {
      try {
        while (this.#checkpointDirty) {
          this.#checkpointDirty = false;
          await writeAtomic(
            join(this.dir, "checkpoints.json"),
            JSON.stringify({ objects: [...this.#checkpoints.values()] }),
          );
        }
      } finally {
        this.#checkpointWriting = undefined;
      }
    })();
    return this.#checkpointWriting;
  }

  /** Appends a poison message to `quarantine.jsonl`. */
  quarantine(record: QuarantineRecord): Promise<void> {
    return this.#serial(() =>
      appendSynced(join(this.dir, "quarantine.jsonl"), JSON.stringify(record) + "\n")
    );
  }

  /** Waits for pending writes. */
  async close(): Promise<void> {
    await this.#queue;
    await this.#checkpointWriting;
  }
}
