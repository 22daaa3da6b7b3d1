/**
 * Inflated pages shared by the workers that walk one row group read in parts
 * (`parallel_lines.ts`): each of them reads every page of the row group, so without this each
 * inflates and checks every page. With it, the first worker to reach a page inflates and checks
 * it and copies it into shared memory; the others take that copy.
 *
 * The main thread makes a few buffers for such an object ({@link sharedPageBuffers}); row group
 * `index` uses buffer `index % count`, from the moment a worker enters it until the last worker
 * in it leaves. A worker that finds its buffer held by another row group, its table full, its
 * bytes used up, or a page another worker gave up on (or took too long with), inflates the page
 * itself: the buffers only ever save work, and a page is never written while a worker may still
 * read it.
 *
 * Buffer layout: 32-bit words `[lock, row group index + 1 (0: free), workers in it, bytes used]`,
 * then {@link SLOTS} table entries `[key, state, offset, length]` (key: the page's offset from the
 * row group's first byte, plus one), then the pages' bytes.
 * @module
 */

/** Table entries of a buffer: pages of one row group it can hold. */
const SLOTS = 1024;
const LOCK = 0;
const GROUP = 1;
const USERS = 2;
const USED = 3;
const TABLE = 4;
const CONTROL_BYTES = (TABLE + SLOTS * 4) * 4;
/** A page's states: claimed by a worker inflating it (0), ready, given up on. */
const READY = 2;
const ABANDONED = 3;
/** How long a worker waits for a page another is inflating before it inflates it itself. */
const WAIT_MS = 2000;
/** How long a worker tries to take a buffer's lock (held for a few words' update). */
const LOCK_MS = 200;

/** Bytes of pages one buffer can hold, at most: a row group inflating to more is not shared. */
export const MAX_SHARED_PAGE_BYTES = 256 * 1024 * 1024;

/**
 * `count` buffers for an object whose row groups read in parts inflate to at most `pageBytes`
 * bytes each (as declared); none when that is 0 or more than {@link MAX_SHARED_PAGE_BYTES}, or
 * memory for them cannot be had. Their memory is taken as pages are written into them, and
 * given back with them once the object is done.
 */
export function sharedPageBuffers(pageBytes: number, count = 2): SharedArrayBuffer[] {
  if (!(pageBytes > 0 && pageBytes <= MAX_SHARED_PAGE_BYTES)) return [];
  try {
    return Array.from({ length: count }, () => new SharedArrayBuffer(CONTROL_BYTES + pageBytes));
  } catch {
    return [];
  }
}

/** What {@link SharedPages.counts} counts. */
export interface PageCounts {
  published: number;
  taken: number;
}

/** A page looked up in a row group's buffer: ready to read, or this worker's to inflate. */
export type SharedPage =
  | { readonly ready: Uint8Array }
  | {
    readonly ready?: undefined;
    /** Copies the page, inflated and checked, for the others; returns the copy to read. */
    publish(page: Uint8Array): Uint8Array;
    /** The page could not be had: the others inflate it themselves. */
    abandon(): void;
  };

/** One worker's view of an object's buffers. */
export class SharedPages {
  readonly #buffers: readonly SharedArrayBuffer[];
  /** Pages this worker inflated for the others, and pages it took inflated by another. */
  readonly counts: PageCounts = { published: 0, taken: 0 };

  /** `buffers` as {@link sharedPageBuffers} made them for the object. */
  constructor(buffers: readonly SharedArrayBuffer[]) {
    this.#buffers = buffers;
  }

  /**
   * Enters row group `index`, whose bytes start at byte `base` of the object: its buffer, or
   * undefined when there is none or another row group holds it. Release it when the row group is
   * done.
   */
  enter(index: number, base: number): GroupPages | undefined {
    if (this.#buffers.length === 0) return undefined;
    const buffer = this.#buffers[index % this.#buffers.length]!;
    const words = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    if (!lock(words)) return undefined;
    try {
      const held = words[GROUP]!;
      if (held === 0) {
        words.fill(0, USERS);
        words[GROUP] = index + 1;
      } else if (held !== index + 1) return undefined;
      words[USERS]!++;
    } finally {
      unlock(words);
    }
    return new GroupPages(buffer, words, base, this.counts);
  }
}

/** The pages of one row group in its buffer, for one worker (see {@link SharedPages.enter}). */
export class GroupPages {
  readonly #buffer: SharedArrayBuffer;
  readonly #words: Int32Array;
  readonly #base: number;
  readonly #counts: PageCounts;
  #released = false;

  constructor(buffer: SharedArrayBuffer, words: Int32Array, base: number, counts: PageCounts) {
    this.#buffer = buffer;
    this.#words = words;
    this.#base = base;
    this.#counts = counts;
  }

  /**
   * The page whose header is at byte `at` of the object and whose inflated bytes are `length`:
   * ready, this worker's to inflate and publish, or undefined (inflate it, and keep it).
   */
  page(at: number, length: number): SharedPage | undefined {
    const key = at - this.#base + 1;
    if (this.#released || !(key > 0 && key < 0x7fffffff)) return undefined;
    const w = this.#words;
    const start = Math.imul(key, 0x9e3779b1) >>> 22; // 10 bits: SLOTS
    for (let probe = 0; probe < SLOTS; probe++) {
      const e = TABLE + ((start + probe) & (SLOTS - 1)) * 4;
      let k = Atomics.load(w, e);
      if (k === 0) {
        k = Atomics.compareExchange(w, e, 0, key);
        if (k === 0) return this.#owned(e, length);
      }
      if (k === key) return this.#found(e, length);
    }
    return undefined;
  }

  /** Leaves the row group; the buffer is free for another once every worker has left. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const w = this.#words;
    if (!lock(w)) return;
    if (--w[USERS]! === 0) w[GROUP] = 0;
    unlock(w);
  }

  #owned(e: number, length: number): SharedPage {
    const w = this.#words;
    const abandon = () => {
      Atomics.store(w, e + 1, ABANDONED);
      Atomics.notify(w, e + 1);
    };
    return {
      publish: (page: Uint8Array): Uint8Array => {
        const offset = page.length === length ? this.#take(length) : -1;
        if (offset < 0) {
          abandon();
          return page;
        }
        const copy = new Uint8Array(this.#buffer, CONTROL_BYTES + offset, length);
        copy.set(page);
        w[e + 2] = offset;
        w[e + 3] = length;
        Atomics.store(w, e + 1, READY);
        Atomics.notify(w, e + 1);
        this.#counts.published++;
        return copy;
      },
      abandon,
    };
  }

  /** The offset of `length` bytes taken in the buffer for a page, or -1 when they are not left. */
  #take(length: number): number {
    const w = this.#words;
    const capacity = this.#buffer.byteLength - CONTROL_BYTES;
    for (;;) {
      const used = Atomics.load(w, USED);
      if (!(length >= 0 && used + length <= capacity)) return -1;
      if (Atomics.compareExchange(w, USED, used, used + length) === used) return used;
    }
  }

  #found(e: number, length: number): SharedPage | undefined {
    const w = this.#words;
    for (;;) {
      const state = Atomics.load(w, e + 1);
      if (state === 0) {
        if (Atomics.wait(w, e + 1, 0, WAIT_MS) === "timed-out") return undefined;
        continue;
      }
      if (state !== READY || w[e + 3] !== length) return undefined;
      this.#counts.taken++;
      return { ready: new Uint8Array(this.#buffer, CONTROL_BYTES + w[e + 2]!, length) };
    }
  }
}

/**
 * Takes the buffer's lock, held only for a few words' update; false after {@link LOCK_MS} (its
 * holder was terminated holding it).
 */
function lock(w: Int32Array): boolean {
  const deadline = Date.now() + LOCK_MS;
  while (Atomics.compareExchange(w, LOCK, 0, 1) !== 0) {
    if (Date.now() > deadline) return false;
    Atomics.wait(w, LOCK, 1, 1);
  }
  return true;
}

function unlock(w: Int32Array): void {
  Atomics.store(w, LOCK, 0);
  Atomics.notify(w, LOCK);
}
