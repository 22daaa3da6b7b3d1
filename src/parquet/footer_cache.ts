/**
 * What the main thread reads for the decode workers of one object: the footer, read once and
 * served to every worker from memory, and the row groups read ahead of the workers in larger
 * requests, each worker getting its copy.
 * @module
 */

import type { AsyncBuffer } from "hyparquet";

/**
 * The reads of an object's footer (and what its metadata needed), kept while recording and served
 * from memory to every worker; `onKept` is told the bytes kept (the pool's statistics).
 */
export class FooterCache implements AsyncBuffer {
  readonly byteLength: number;
  readonly #file: AsyncBuffer;
  readonly #kept: { start: number; end: number; bytes: ArrayBuffer }[] = [];
  readonly #onKept: (bytes: number) => void;
  #recording = true;

  constructor(file: AsyncBuffer, onKept: (bytes: number) => void = () => {}) {
    this.#file = file;
    this.byteLength = file.byteLength;
    this.#onKept = onKept;
  }

  /** Stops remembering reads (after the metadata). */
  stopRecording(): void {
    this.#recording = false;
  }

  /** A read of `start..end`; the result is the caller's (it may be transferred). */
  async slice(start: number, end: number = this.byteLength): Promise<ArrayBuffer> {
    for (const k of this.#kept) {
      if (start >= k.start && end <= k.end) return k.bytes.slice(start - k.start, end - k.start);
    }
    const bytes = await this.#file.slice(start, end);
    if (this.#recording) {
      this.#kept.push({ start, end: start + bytes.byteLength, bytes: bytes.slice(0) });
      this.#onKept(bytes.byteLength);
    }
    return bytes;
  }
}

/**
 * Reads ahead of the workers: when a worker asks for a row group's bytes, the row groups after
 * it are requested too, up to `aheadBytes` of them held (adjacent ones in one request), so a
 * worker's next row group is usually here when it gets to it, and small row groups cost fewer
 * requests. The next row group is read ahead even when it alone is larger than `aheadBytes`,
 * unless `strict` (under a memory budget): then it is read when a worker asks for it.
 * A row group read in parts is asked for by each worker that walks it: it is kept for all of
 * them (a copy each, the last one takes it). A read that failed fails the worker that asks for
 * it, with the very error; one nobody asks for is dropped.
 */
export class Prefetcher {
  readonly #file: AsyncBuffer;
  /** The row groups' byte ranges, in reading order, and how many workers read each. */
  readonly #spans: { start: number; end: number; readers: number }[];
  readonly #aheadBytes: number;
  readonly #strict: boolean;
  readonly #held = new Map<number, { span: number; left: number; bytes: Promise<ArrayBuffer> }>();
  /** Reads made ahead, until they settle. */
  readonly pending = new Set<Promise<unknown>>();
  #heldBytes = 0;
  /** Spans before this one were requested (by a worker or ahead of one). */
  #next = 0;

  constructor(
    file: AsyncBuffer,
    spans: { start: number; end: number; readers: number }[],
    aheadBytes: number,
    strict = false,
  ) {
    this.#file = file;
    this.#spans = spans;
    this.#aheadBytes = aheadBytes;
    this.#strict = strict;
  }

  slice(start: number, end: number): Promise<ArrayBuffer> {
    const held = this.#held.get(start);
    let read: Promise<ArrayBuffer>;
    if (held && this.#spans[held.span]!.end === end) {
      if (--held.left === 0) {
        this.#held.delete(start);
        this.#heldBytes -= end - start;
        read = held.bytes;
      } else read = held.bytes.then((b) => b.slice(0));
      this.#ahead(held.span + 1);
      return read;
    }
    read = this.#read(start, end);
    const span = this.#spans.findIndex((s) => s.start === start && s.end === end);
    if (span >= 0) {
      const readers = this.#spans[span]!.readers;
      if (readers > 1 && span >= this.#next) {
        // The other workers walking this row group get it from here.
        this.#hold(span, readers - 1, read.then((b) => b.slice(0)));
      }
      this.#next = Math.max(this.#next, span + 1);
      this.#ahead(span + 1);
    }
    return read;
  }

  /**
   * Requests the spans from `from` on that fit in what may be held; adjacent ones in one
   * request, each then held as its own copy.
   */
  #ahead(from: number): void {
    // Refilled once three quarters are used, so that reads stay large (fewer requests: each
    // costs S3 a request and moto a copy of the whole object); a quarter is still held.
    if (this.#heldBytes > this.#aheadBytes / 4) return;
    let i = Math.max(from, this.#next);
    const first = i;
    let bytes = this.#heldBytes;
    while (i < this.#spans.length) {
      const s = this.#spans[i]!;
      if (bytes + (s.end - s.start) > this.#aheadBytes && (bytes > 0 || this.#strict)) break;
      if (i > first && s.start !== this.#spans[i - 1]!.end) break;
      bytes += s.end - s.start;
      i++;
    }
    if (i === first) return;
    this.#next = i;
    const start = this.#spans[first]!.start;
    const block = this.#read(start, this.#spans[i - 1]!.end);
    if (i - first === 1) {
      this.#hold(first, this.#spans[first]!.readers, block);
      return;
    }
    // Each row group its own copy; the block is then freed at once (detached) rather than at
    // this thread's next full GC.
    const parts = block.then((b) => {
      const out = this.#spans.slice(first, i).map((s) => b.slice(s.start - start, s.end - start));
      try {
        if (!b.detached) b.transfer(0);
      } catch {
        // Not detachable (shared or wasm memory): left to the garbage collector.
      }
      return out;
    });
    for (let k = first; k < i; k++) {
      this.#hold(k, this.#spans[k]!.readers, parts.then((p) => p[k - first]!));
    }
  }

  #hold(span: number, left: number, bytes: Promise<ArrayBuffer>): void {
    const s = this.#spans[span]!;
    const settled = bytes.catch(() => {}); // surfaces when a worker asks for it
    this.pending.add(settled);
    settled.finally(() => this.pending.delete(settled));
    this.#held.set(s.start, { span, left, bytes });
    this.#heldBytes += s.end - s.start;
  }

  #read(start: number, end: number): Promise<ArrayBuffer> {
    return new Promise((resolve) => resolve(this.#file.slice(start, end)));
  }

  /** Drops what nobody asked for. */
  clear(): void {
    this.#held.clear();
    this.#heldBytes = 0;
  }
}
