/**
 * Duplicate bounds of {@link ConfirmedStreamOutput} across receiver outages, and the connection it
 * opens ahead under load, against the mutual-TLS test receiver. The outage sequences are driven
 * step by step: a connector wrapper holds a batch's confirmation (its `closeWrite()`) until the
 * test has cut the receiver, so nothing depends on timing. The tests of connections opened ahead
 * record the order of connects, writes and closes; two of them use timers, with wide margins.
 */
import assert from "node:assert/strict";
import { makeCerts, testConnector } from "../../tests/helpers/certs.ts";
import type { TestCerts } from "../../tests/helpers/certs.ts";
import { startTlsReceiver } from "../../tests/helpers/tls_receiver.ts";
import type { LineReceiver, ReceiverOptions } from "../../tests/helpers/tls_receiver.ts";
import { ConfirmedStreamOutput } from "./confirmed_stream.ts";
import type { Receipt } from "./confirmed_stream.ts";
import type { Connector } from "./connectors.ts";

const enc = new TextEncoder();

/** `n` syslog lines with ids `from`…`from + n - 1` (about 50 bytes each). */
function lines(from: number, n: number): Uint8Array {
  return enc.encode(
    Array.from({ length: n }, (_, i) => `<14>2024-04-10T12:05:00.000Z h t: {"i":${from + i}}\n`)
      .join(""),
  );
}

/** Arrivals per id, over every receiver's lines. */
function copies(...receivers: LineReceiver[]): Map<number, number> {
  const seen = new Map<number, number>();
  for (const r of receivers) {
    for (const l of r.lines) {
      const id = Number(l.match(/"i":(\d+)/)![1]);
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
  }
  return seen;
}

/**
 * A connector that holds the confirmation (the `closeWrite()`) of the first `count` connections
 * that carry data until `release(i)`; `held(i)` resolves once the `i`-th one was asked for.
 * Connections that carry nothing (close_notify probes) are not held.
 */
function holdingConfirmations(inner: Connector, count: number) {
  const gates = Array.from({ length: count }, () => ({
    held: Promise.withResolvers<void>(),
    release: Promise.withResolvers<void>(),
  }));
  let carrying = 0;
  const connector: Connector = {
    target: inner.target,
    tls: inner.tls,
    async connect(signal?: AbortSignal): Promise<Deno.Conn> {
      const conn = await inner.connect(signal);
      const write = conn.write.bind(conn);
      const closeWrite = conn.closeWrite.bind(conn);
      let gate: (typeof gates)[number] | undefined;
      let wrote = false;
      conn.write = (p: Uint8Array) => {
        if (!wrote) {
          wrote = true;
          gate = gates[carrying++];
        }
        return write(p);
      };
      conn.closeWrite = async () => {
        if (gate) {
          gate.held.resolve();
          await gate.release.promise;
        }
        return await closeWrite();
      };
      return conn;
    },
  };
  return {
    connector,
    held: (i: number) => gates[i]!.held.promise,
    release: (i: number) => gates[i]!.release.resolve(),
    releaseAll: () => gates.forEach((g) => g.release.resolve()),
  };
}

/**
 * The receiver-outage sequence of the fault test, in steps, with a writer that behaves like the
 * object processor (it refuses its own writes once one of its batches failed, and then sends its
 * rows again from its checkpoint, here row 0):
 *
 * 1. batch A (ids 0–9) is written on connection 1 and read by the receiver;
 * 2. the write of B (ids 10–19) starts A's confirmation, which is held; with two batches in
 *    flight B is written on connection 2 meanwhile and read by the receiver too;
 * 3. the receiver goes down (both connections cut) and A's confirmation goes on: every attempt
 *    fails, A fails for good and the writer refuses its writes from now on;
 * 4. the receiver comes back; the writer flushes (as the object processor does after a failure)
 *    and then sends every row again, from its checkpoint.
 */
async function outage(batchesInFlight: 1 | 2): Promise<Map<number, number>> {
  const certs = await makeCerts();
  let first: LineReceiver | undefined;
  let second: LineReceiver | undefined;
  try {
    first = await startTlsReceiver(certs);
    const port = first.port;
    const gate = holdingConfirmations(testConnector(certs, port), 1);
    const out = new ConfirmedStreamOutput(gate.connector, {
      name: "devo_test",
      batchesInFlight,
      maxBatchBytes: 600, // one batch per 10 lines
      lingerMs: 60_000, // batches are committed by the writes and flushes below only
      commitIntervalMs: 60_000,
      retries: 2,
      retryBaseMs: 1,
      confirmTimeoutMs: 5_000,
    });
    try {
      let failed = false;
      const write = { admit: () => !failed };
      const watch = (r: Receipt) => {
        r.confirmed.catch(() => failed = true);
        return r;
      };
      // 1.
      const a = watch(await out.write(lines(0, 10), 10, write));
      await first.waitForLines(10);
      // 2.
      const b = out.write(lines(10, 10), 10, write).then(watch);
      b.catch(() => {}); // refused with one batch in flight: A failed first
      await gate.held(0);
      if (batchesInFlight === 2) await first.waitForLines(20);
      // 3.
      await first.close();
      gate.release(0);
      await assert.rejects(a.confirmed);
      assert.ok(failed);
      // 4.
      second = await startTlsReceiver(certs, { port });
      await out.flush();
      const retry = { admit: () => true };
      const again = [
        await out.write(lines(0, 10), 10, retry),
        await out.write(lines(10, 10), 10, retry),
      ];
      await out.flush();
      for (const r of again) await r.confirmed;
      return copies(first, second);
    } finally {
      gate.releaseAll();
      await out.close();
    }
  } finally {
    await first?.close();
    await second?.close();
    await certs.cleanup();
  }
}

Deno.test("an outage with one batch in flight: the failed batch arrives at most twice, the next one once", async () => {
  const seen = await outage(1);
  for (let i = 0; i < 10; i++) assert.equal(seen.get(i), 2, `id ${i}`);
  for (let i = 10; i < 20; i++) assert.equal(seen.get(i), 1, `id ${i}`);
});

Deno.test("an outage with two batches in flight: the batch written after a failed one is not sent again, so no id arrives three times", async () => {
  const seen = await outage(2);
  // A: on connection 1, then from the checkpoint. B: on connection 2, then from the checkpoint
  // (sending B again after A failed would be its third copy).
  for (let i = 0; i < 20; i++) assert.equal(seen.get(i), 2, `id ${i}`);
});

for (const batchesInFlight of [1, 2] as const) {
  Deno.test(`a batch read on two connections that were then cut arrives three times (${batchesInFlight} in flight): every failed attempt the receiver read can add a copy`, async () => {
    // Not bounded by the batches in flight: nothing on a syslog stream tells a connection the
    // receiver read and then lost from one it never read, so each is sent again.
    const certs = await makeCerts();
    const receivers: LineReceiver[] = [];
    try {
      receivers.push(await startTlsReceiver(certs));
      const port = receivers[0]!.port;
      const gate = holdingConfirmations(testConnector(certs, port), 2);
      const out = new ConfirmedStreamOutput(gate.connector, {
        name: "devo_test",
        batchesInFlight,
        lingerMs: 60_000,
        commitIntervalMs: 60_000,
        retries: 5,
        retryBaseMs: 1,
        confirmTimeoutMs: 5_000,
      });
      try {
        const receipt = await out.write(lines(0, 10), 10);
        const flushed = out.flush();
        for (const i of [0, 1]) {
          // The receiver reads the batch, and goes away (cutting the connection) before it
          // confirms; it is back at once.
          await gate.held(i);
          await receivers.at(-1)!.waitForLines(10);
          await receivers.at(-1)!.close();
          receivers.push(await startTlsReceiver(certs, { port }));
          gate.release(i);
        }
        await flushed;
        await receipt.confirmed;
        const seen = copies(...receivers);
        for (let i = 0; i < 10; i++) assert.equal(seen.get(i), 3, `id ${i}`);
        assert.equal(out.stats.eventsSent, 10);
        assert.equal(out.stats.retries, 2);
      } finally {
        gate.releaseAll();
        await out.close();
      }
    } finally {
      for (const r of receivers) await r.close();
      await certs.cleanup();
    }
  });
}

/**
 * A connector that records, in one list, when each connection is asked for (`connect k`), its
 * first write (`write k`) and its closing (`close k`), k counting connections from 0. With
 * `endEarly`, the connections of those numbers are closed on our side as soon as they open, as
 * a peer ending an idle connection would.
 */
function recordingConnector(inner: Connector, endEarly: Set<number> = new Set()) {
  const events: string[] = [];
  let opened = 0;
  const connector: Connector = {
    target: inner.target,
    tls: inner.tls,
    async connect(signal?: AbortSignal): Promise<Deno.Conn> {
      const k = opened++;
      events.push(`connect ${k}`);
      const conn = await inner.connect(signal);
      const write = conn.write.bind(conn);
      const close = conn.close.bind(conn);
      let wrote = false;
      conn.write = (p: Uint8Array) => {
        if (!wrote) events.push(`write ${k}`);
        wrote = true;
        return write(p);
      };
      conn.close = () => {
        if (!events.includes(`close ${k}`)) events.push(`close ${k}`);
        close();
      };
      if (endEarly.has(k)) conn.close();
      return conn;
    },
  };
  /** Connections that carried data, in the order of their first write. */
  const carriers = () =>
    events.filter((e) => e.startsWith("write ")).map((e) => Number(e.split(" ")[1]));
  return { connector, events, carriers };
}

/** An output whose batches hold 100 of {@link lines}' lines and end only when full. */
function hundredLineBatches(
  connector: Connector,
  batchesInFlight: 1 | 2,
  spareMaxAgeMs?: number,
) {
  return new ConfirmedStreamOutput(connector, {
    name: "devo_test",
    batchesInFlight,
    spareMaxAgeMs,
    maxBatchBytes: lines(0, 100).length,
    lingerMs: 60_000,
    commitIntervalMs: 60_000,
    confirmTimeoutMs: 5_000,
  });
}

/** Runs `fn` against a new TLS receiver; stops it and removes the certificates after. */
async function withReceiver(
  fn: (certs: TestCerts, receiver: LineReceiver) => Promise<void>,
  options: ReceiverOptions = {},
): Promise<void> {
  const certs = await makeCerts();
  const receiver = await startTlsReceiver(certs, options);
  try {
    await fn(certs, receiver);
  } finally {
    await receiver.close();
    await certs.cleanup();
  }
}

/** Waits until the receiver has no connection open (at most 5 s). */
async function allClosed(r: LineReceiver): Promise<void> {
  for (let i = 0; i < 500 && r.activeConnections > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(r.activeConnections, 0, "connections left open");
}

for (const batchesInFlight of [1, 2] as const) {
  Deno.test(`full batches in a row (${batchesInFlight} in flight): each next batch's connection is opened while the one before is written; idle, none is left open`, async () => {
    await withReceiver(async (certs, receiver) => {
      const rec = recordingConnector(testConnector(certs, receiver.port));
      const out = hundredLineBatches(rec.connector, batchesInFlight);
      try {
        const receipts: Receipt[] = [];
        for (let b = 0; b < 6; b++) receipts.push(await out.write(lines(b * 100, 100), 100));
        await out.flush();
        for (const r of receipts) await r.confirmed;
        const seen = copies(receiver);
        for (let i = 0; i < 600; i++) assert.equal(seen.get(i), 1, `id ${i}`);
        // The first two batches open their own connections; from the third on, each batch's
        // connection was asked for before the batch before it was written.
        const carriers = rec.carriers();
        assert.equal(carriers.length, 6, rec.events.join(", "));
        for (let j = 2; j < carriers.length; j++) {
          assert.ok(
            rec.events.indexOf(`connect ${carriers[j]}`) <
              rec.events.indexOf(`write ${carriers[j - 1]}`),
            `batch ${j}: ${rec.events.join(", ")}`,
          );
        }
        // Idle after the flush: the spare opened for a next batch is closed.
        await allClosed(receiver);
      } finally {
        await out.close();
      }
    });
  });
}

Deno.test("a connection opened ahead that the peer ended before its batch is replaced, and nothing is lost", async () => {
  await withReceiver(async (certs, receiver) => {
    // Connections 0 and 1 carry the first two batches; 2 is the first one opened ahead.
    const rec = recordingConnector(testConnector(certs, receiver.port), new Set([2]));
    const out = hundredLineBatches(rec.connector, 2);
    try {
      const receipts: Receipt[] = [];
      for (let b = 0; b < 4; b++) receipts.push(await out.write(lines(b * 100, 100), 100));
      await out.flush();
      for (const r of receipts) await r.confirmed;
      const seen = copies(receiver);
      for (let i = 0; i < 400; i++) assert.equal(seen.get(i), 1, `id ${i}`);
      // Each batch on one connection of its own: none was written to the ended one, which would
      // count as a cut and split the batches after it.
      assert.equal(rec.carriers().length, 4, rec.events.join(", "));
      assert.ok(!rec.carriers().includes(2), rec.events.join(", "));
      assert.equal(out.stats.retries, 0);
      await allClosed(receiver);
    } finally {
      await out.close();
    }
  });
});

Deno.test("a connection opened ahead that waited longer than spareMaxAgeMs is replaced, not written to", async () => {
  await withReceiver(async (certs, receiver) => {
    const rec = recordingConnector(testConnector(certs, receiver.port));
    const out = hundredLineBatches(rec.connector, 1, 20);
    try {
      const receipts: Receipt[] = [];
      for (let b = 0; b < 4; b++) {
        // Each batch's holder settles 100 ms after the write: the next batch starts after that, by
        // when its spare is older than 20 ms.
        const settled = new Promise((resolve) => setTimeout(resolve, 100));
        receipts.push(await out.write(lines(b * 100, 100), 100, { settled }));
      }
      await out.flush();
      for (const r of receipts) await r.confirmed;
      const seen = copies(receiver);
      for (let i = 0; i < 400; i++) assert.equal(seen.get(i), 1, `id ${i}`);
      const carriers = rec.carriers();
      assert.equal(carriers.length, 4, rec.events.join(", "));
      for (let j = 1; j < carriers.length; j++) {
        assert.ok(
          rec.events.indexOf(`connect ${carriers[j]}`) >
            rec.events.indexOf(`write ${carriers[j - 1]}`),
          `batch ${j} went on a connection opened ahead: ${rec.events.join(", ")}`,
        );
      }
      // Spares were opened, and closed unused.
      const opened = rec.events.filter((e) => e.startsWith("connect ")).length;
      assert.ok(opened > carriers.length, rec.events.join(", "));
      await allClosed(receiver);
    } finally {
      await out.close();
    }
  });
});

Deno.test("after abort() no connection is opened ahead", async () => {
  await withReceiver(async (certs, receiver) => {
    const gate = holdingConfirmations(testConnector(certs, receiver.port), 1);
    const rec = recordingConnector(gate.connector);
    const out = hundredLineBatches(rec.connector, 1);
    try {
      await out.write(lines(0, 100), 100);
      // The second write fills the first batch: it waits for its confirmation, held here.
      const second = out.write(lines(100, 100), 100).catch(() => undefined);
      await gate.held(0);
      out.abort();
      const before = rec.events.filter((e) => e.startsWith("connect ")).length;
      gate.release(0);
      await second;
      await out.close().catch(() => {});
      // The pending write may still open its own batch's connection, but no spare beside it.
      const after = rec.events.filter((e) => e.startsWith("connect ")).length;
      assert.ok(after - before <= 1, rec.events.join(", "));
      await allClosed(receiver);
    } finally {
      gate.releaseAll();
    }
  });
});

Deno.test("close() returns once a connection opened ahead, still connecting when dropped, is closed", async () => {
  await withReceiver(async (certs, receiver) => {
    const inner = testConnector(certs, receiver.port);
    // Connection 2, the first opened ahead (for a third batch that never comes), connects slowly.
    let n = 0;
    const slow: Connector = {
      target: inner.target,
      tls: inner.tls,
      async connect(signal?: AbortSignal) {
        if (n++ === 2) await new Promise((resolve) => setTimeout(resolve, 300));
        return await inner.connect(signal);
      },
    };
    const rec = recordingConnector(slow);
    const out = hundredLineBatches(rec.connector, 2);
    try {
      for (let b = 0; b < 2; b++) await out.write(lines(b * 100, 100), 100);
      assert.ok(rec.events.includes("connect 2"), rec.events.join(", "));
      await out.close();
      assert.ok(rec.events.includes("close 2"), rec.events.join(", "));
      assert.equal(copies(receiver).size, 200);
    } finally {
      await out.close();
    }
  });
});

Deno.test("no connection is opened ahead while a receiver's cuts keep batches small", async () => {
  // The receiver cuts every connection after 150 lines: a batch of 200 is cut, and later batches
  // stay at most half that size until many clean sends.
  await withReceiver(async (certs, receiver) => {
    const rec = recordingConnector(testConnector(certs, receiver.port));
    const out = new ConfirmedStreamOutput(rec.connector, {
      name: "devo_test",
      batchesInFlight: 2,
      maxBatchBytes: lines(0, 200).length,
      lingerMs: 60_000,
      commitIntervalMs: 60_000,
      confirmTimeoutMs: 5_000,
      retryBaseMs: 1,
    });
    try {
      const receipts = [await out.write(lines(0, 200), 200)];
      await out.flush();
      const cut = rec.events.length;
      // Full batches of 60 lines each, under the lowered limit: no spare beside them.
      for (let b = 0; b < 6; b++) receipts.push(await out.write(lines(1000 + b * 60, 60), 60));
      await out.flush();
      for (const r of receipts) await r.confirmed;
      const seen = copies(receiver);
      for (const i of [0, 199, 1000, 1359]) assert.ok(seen.get(i)! >= 1, `id ${i}`);
      const later = rec.events.slice(cut);
      const connects = later.filter((e) => e.startsWith("connect ")).map((e) => e.split(" ")[1]);
      for (const k of connects) {
        // Each connection opened after the cut is written to before the next one is asked for.
        const at = later.indexOf(`connect ${k}`);
        const next = later.findIndex((e, i) => i > at && e.startsWith("connect "));
        const wrote = later.indexOf(`write ${k}`);
        assert.ok(wrote > at && (next < 0 || wrote < next), later.join(", "));
      }
      assert.ok(connects.length >= 6, later.join(", "));
    } finally {
      await out.close();
    }
  }, { closeAfterLines: 150 });
});
