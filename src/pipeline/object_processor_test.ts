import assert from "node:assert/strict";
import { idMsgParquet } from "../../tests/helpers/id_msg_parquet.ts";
import { emptyOutputStats } from "../output/confirmed_stream.ts";
import type { OutputStats } from "../output/confirmed_stream.ts";
import { processBytes } from "../../tests/helpers/process_bytes.ts";
import type { EventOutput, ObjectRef, ObjectState, Receipt, WriteOptions } from "./ports.ts";

function parquet(rows: number): Uint8Array {
  return idMsgParquet(
    Array.from({ length: rows }, (_, id) => ({ id, msg: `event number ${id} `.repeat(4) })),
  );
}

interface FakeBatch {
  confirmed: PromiseWithResolvers<void>;
  writes: number;
  rows: number;
  holds: Promise<unknown>[];
}

/**
 * An output that groups every `perBatch` writes (or what a short linger finds) into one batch
 * and confirms it a little later, as ConfirmedStreamOutput does: every write of a batch gets
 * the batch's one confirmation promise.
 */
class BatchingOutput implements EventOutput {
  readonly name = "batching";
  readonly stats: OutputStats = emptyOutputStats();
  /** Rows of each batch, in order. */
  readonly batches: number[] = [];
  /** Whether the holders of each batch had settled before the next batch started. */
  readonly settledBeforeNext: boolean[] = [];
  #current?: FakeBatch;
  #previous?: FakeBatch;
  #perBatch: number;

  constructor(perBatch: number) {
    this.#perBatch = perBatch;
  }

  async write(_chunk: Uint8Array, events: number, options: WriteOptions = {}): Promise<Receipt> {
    if (!this.#current) {
      if (this.#previous) {
        let settled = false;
        await Promise.race([
          Promise.allSettled(this.#previous.holds).then(() => settled = true),
          new Promise((r) => setTimeout(r, 1000)),
        ]);
        this.settledBeforeNext.push(settled);
      }
      this.#current = { confirmed: Promise.withResolvers(), writes: 0, rows: 0, holds: [] };
    }
    const b = this.#current;
    b.writes++;
    b.rows += events;
    if (options.settled) b.holds.push(options.settled);
    if (b.writes === this.#perBatch) this.#commit(b);
    else setTimeout(() => this.#commit(b), 5);
    return { confirmed: b.confirmed.promise };
  }

  #commit(b: FakeBatch) {
    if (this.#current !== b) return;
    this.#current = undefined;
    this.#previous = b;
    this.batches.push(b.rows);
    setTimeout(() => b.confirmed.resolve(), 2);
  }

  flush(): Promise<void> {
    if (this.#current) this.#commit(this.#current);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return this.flush();
  }

  abort(): void {}
}

class MemoryState implements ObjectState {
  readonly saves: number[] = [];
  completedWith?: number;
  completed(): undefined {
    return undefined;
  }
  markCompleted(_o: ObjectRef, events: number): Promise<void> {
    this.completedWith = events;
    return Promise.resolve();
  }
  checkpoint(): number {
    return 0;
  }
  async saveCheckpoint(_o: ObjectRef, rows: number): Promise<void> {
    await new Promise((r) => setTimeout(r, 1));
    this.saves.push(rows);
  }
}

Deno.test("one checkpoint is saved per confirmed batch, at the batch's last row, not one per chunk", async () => {
  const bytes = parquet(3000);
  const out = new BatchingOutput(4);
  const state = new MemoryState();
  const outcome = await processBytes(bytes, {
    outputs: [out],
    state,
    chunkBytes: 4096,
  });
  assert.equal(outcome.ok, true);
  assert.equal(outcome.events, 3000);
  assert.equal(state.completedWith, 3000);
  // Many chunks, a few batches.
  assert.ok(out.batches.length >= 3, `batches: ${out.batches}`);
  const ends = out.batches.map((_, i) => out.batches.slice(0, i + 1).reduce((a, b) => a + b, 0));
  assert.deepEqual(state.saves, ends);
  // Each batch's checkpoint was saved before the next batch started.
  assert.ok(out.settledBeforeNext.every((s) => s), `settled: ${out.settledBeforeNext}`);
});

/** An output that keeps every line written and confirms each write at once. */
class CollectingOutput implements EventOutput {
  readonly name = "collecting";
  readonly stats: OutputStats = emptyOutputStats();
  readonly lines: string[] = [];
  events = 0;
  write(chunk: Uint8Array, events: number): Promise<Receipt> {
    const lines = new TextDecoder().decode(chunk).split("\n").slice(0, -1);
    assert.equal(lines.length, events, "a write's events are its lines");
    this.lines.push(...lines);
    this.events += events;
    return Promise.resolve({ confirmed: Promise.resolve() });
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  abort(): void {}
}

Deno.test("drop_events and tag_routes: lines sent once, rows checkpointed past the dropped, resumed right", async () => {
  const bytes = parquet(3000);
  const rules = {
    // Rows 1000 to 1999: whole slices with no line.
    drop: [{ path: "msg", matches: "^event number 1\\d\\d\\d " }],
    routes: [{ path: "id", in: ["5", "2500"], tag: "x.y.routed" }],
  };
  for (
    const [resumedAt, eventsExpected, filteredExpected] of [[0, 2000, 1000], [1500, 1000, 500]]
  ) {
    const out = new CollectingOutput();
    const state = new MemoryState();
    state.checkpoint = () => resumedAt;
    for (const objects of [false, true]) {
      const o = new CollectingOutput();
      let filtered = 0;
      const outcome = await processBytes(bytes, {
        outputs: [objects ? o : out],
        state,
        chunkBytes: 4096,
        rules,
        onFiltered: (n) => filtered += n,
        // The object path judges the event objects.
        ...(objects ? { eventTransform: (e) => e } : {}),
      });
      assert.ok(outcome.ok);
      assert.equal(outcome.events, eventsExpected);
      assert.equal(outcome.ok && outcome.filtered, filteredExpected);
      assert.equal(filtered, filteredExpected);
      assert.equal(state.completedWith, 3000, "the rows of the object, dropped ones included");
      assert.equal(state.saves.at(-1), 3000);
      const lines = (objects ? o : out).lines;
      const ids = lines.map((l) => JSON.parse(l.slice(l.indexOf("{"))).id as number);
      const want = Array.from({ length: 3000 }, (_, i) => i).filter((i) =>
        i >= resumedAt && (i < 1000 || i > 1999)
      );
      assert.deepEqual(ids, want);
      for (const l of lines) {
        const id = JSON.parse(l.slice(l.indexOf("{"))).id;
        assert.equal(/ h (\S+): /.exec(l)![1], id === 5 || id === 2500 ? "x.y.routed" : "a.b.c");
      }
      state.saves.length = 0;
    }
  }
});
