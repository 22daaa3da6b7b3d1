import assert from "node:assert/strict";
import { MAX_SHARED_PAGE_BYTES, sharedPageBuffers, SharedPages } from "./shared_pages.ts";
import type { SharedPage } from "./shared_pages.ts";

/** The owner's side of a page just looked up (fails when it is not this worker's to inflate). */
function owned(p: SharedPage | undefined) {
  assert.ok(p !== undefined && p.ready === undefined, "the page is this worker's to inflate");
  return p;
}

/** Two workers' views of the buffers of one object. */
function twoWorkers(pageBytes = 1000) {
  const pages = sharedPageBuffers(pageBytes);
  assert.equal(pages.length, 2);
  return [new SharedPages(pages), new SharedPages(pages)] as const;
}

Deno.test("shared pages: the first worker at a page publishes it, the other reads that copy", () => {
  const [a, b] = twoWorkers();
  const ga = a.enter(0, 5000)!;
  const gb = b.enter(0, 5000)!;
  const page = new Uint8Array([1, 2, 3, 4]);
  const copy = owned(ga.page(5004, 4)).publish(page);
  assert.notEqual(copy.buffer, page.buffer);
  assert.ok(copy.buffer instanceof SharedArrayBuffer);
  assert.deepEqual([...copy], [1, 2, 3, 4]);
  const seen = gb.page(5004, 4);
  assert.deepEqual([...seen!.ready!], [1, 2, 3, 4]);
  // Another page is B's to inflate; A then takes B's copy.
  owned(gb.page(5100, 2)).publish(new Uint8Array([9, 8]));
  assert.deepEqual([...ga.page(5100, 2)!.ready!], [9, 8]);
  assert.deepEqual(a.counts, { published: 1, taken: 1 });
  assert.deepEqual(b.counts, { published: 1, taken: 1 });
  // A page asked with another length than published is not taken.
  assert.equal(ga.page(5004, 5), undefined);
});

Deno.test("shared pages: a page given up on, or that does not fit, is inflated by each worker", () => {
  const [a, b] = twoWorkers(10);
  const ga = a.enter(1, 0)!;
  const gb = b.enter(1, 0)!;
  owned(ga.page(0, 4)).abandon();
  assert.equal(gb.page(0, 4), undefined);
  // 8 bytes fit, the next 8 do not: the owner keeps its own page and the other inflates it too.
  const fits = new Uint8Array(8).fill(1);
  assert.notEqual(owned(ga.page(100, 8)).publish(fits), fits);
  const big = new Uint8Array(8).fill(2);
  assert.equal(owned(ga.page(200, 8)).publish(big), big);
  assert.equal(gb.page(200, 8), undefined);
  // A page that did not fit took no room: the last 2 bytes still hold one.
  const last = owned(ga.page(250, 2)).publish(new Uint8Array([5, 6]));
  assert.ok(last.buffer instanceof SharedArrayBuffer);
  assert.deepEqual([...gb.page(250, 2)!.ready!], [5, 6]);
  // A page published with another length than it was looked up with is not shared.
  const odd = new Uint8Array(1);
  assert.equal(owned(ga.page(300, 2)).publish(odd), odd);
  assert.equal(gb.page(300, 2), undefined);
  assert.deepEqual(a.counts, { published: 2, taken: 0 });
  // Pages before the row group's first byte or too far past it have no key.
  assert.equal(ga.page(-1, 4), undefined);
  assert.equal(ga.page(2 ** 31, 4), undefined);
});

Deno.test("shared pages: a buffer serves one row group at a time, and is cleared for the next", () => {
  const [a, b] = twoWorkers(100);
  const g0 = a.enter(0, 0)!;
  owned(g0.page(10, 3)).publish(new Uint8Array([1, 2, 3]));
  // Row group 2 uses the same buffer as row group 0 (two buffers), row group 1 the other.
  assert.equal(b.enter(2, 0), undefined);
  const g1 = b.enter(1, 0)!;
  owned(g1.page(10, 3)).publish(new Uint8Array([4, 5, 6]));
  const g0b = b.enter(0, 0)!;
  assert.deepEqual([...g0b.page(10, 3)!.ready!], [1, 2, 3]);
  g0.release();
  g0.release(); // once only
  assert.equal(b.enter(2, 0), undefined, "a worker is still in row group 0");
  g0b.release();
  // The last worker left: row group 2 takes the buffer, with none of row group 0's pages.
  const g2 = b.enter(2, 0)!;
  owned(g2.page(10, 3)).publish(new Uint8Array([7, 8, 9]));
  assert.equal(g0b.page(10, 3), undefined, "a released view looks nothing up");
  const g2a = a.enter(2, 0)!;
  assert.deepEqual([...g2a.page(10, 3)!.ready!], [7, 8, 9]);
  assert.deepEqual([...g1.page(10, 3)!.ready!], [4, 5, 6]);
});

Deno.test("shared pages: none for row groups of no bytes or too many; a lock left held is given up", () => {
  assert.deepEqual(sharedPageBuffers(0), []);
  assert.deepEqual(sharedPageBuffers(MAX_SHARED_PAGE_BYTES + 1), []);
  assert.equal(sharedPageBuffers(10, 3).length, 3);
  assert.equal(new SharedPages([]).enter(0, 0), undefined);
  // A worker terminated holding buffer 0's lock: entering it gives up rather than waiting on.
  const pages = sharedPageBuffers(100);
  Atomics.store(new Int32Array(pages[0]!), 0, 1);
  assert.equal(new SharedPages(pages).enter(0, 0), undefined);
  assert.ok(new SharedPages(pages).enter(1, 0) !== undefined);
});
