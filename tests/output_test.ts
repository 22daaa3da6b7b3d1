/**
 * The confirmed-delivery outputs against real receivers: a node:tls server that requires a
 * client certificate, a plain TCP server, and rsyslog with gnutls when installed.
 */
import assert from "node:assert/strict";
import { isCollectorError } from "../src/errors.ts";
import { ConfirmedStreamOutput } from "../src/output/confirmed_stream.ts";
import { classifyConnError, tcpConnector } from "../src/output/connectors.ts";
import { makeCerts, testConnector } from "./helpers/certs.ts";
import type { TestCerts } from "./helpers/certs.ts";
import { rsyslogAvailable, startRsyslogTls } from "./helpers/rsyslog.ts";
import { startTcpReceiver, startTlsReceiver } from "./helpers/tls_receiver.ts";
import { delay } from "./helpers/_util.ts";

const enc = new TextEncoder();
const lines = (from: number, n: number) =>
  enc.encode(
    Array.from({ length: n }, (_, i) => `<14>2024-04-10T12:05:00.000Z h t: {"i":${from + i}}\n`)
      .join(""),
  );

function tlsOut(certs: TestCerts, port: number, rogue = false, extra = {}) {
  return new ConfirmedStreamOutput(
    testConnector(certs, port, rogue),
    { name: "devo_test", retries: 3, retryBaseMs: 50, confirmTimeoutMs: 5000, ...extra },
  );
}

Deno.test("mutual TLS: events are confirmed once the receiver has them all", async () => {
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  const out = tlsOut(certs, receiver.port);
  try {
    const r1 = await out.write(lines(0, 3), 3);
    const r2 = await out.write(lines(3, 2), 2);
    await Promise.all([r1.confirmed, r2.confirmed]);
    assert.equal(receiver.lines.length, 5);
    assert.equal(receiver.lines[4], '<14>2024-04-10T12:05:00.000Z h t: {"i":4}');
    assert.equal(out.stats.eventsSent, 5);
    assert.equal(out.stats.batchesConfirmed, 1);
  } finally {
    await out.close();
    await certs.cleanup();
  }
});

for (const batchesInFlight of [1, 2] as const) {
  Deno.test(
    `batchesInFlight ${batchesInFlight}: ${
      batchesInFlight === 1
        ? "each batch is confirmed before the next is written"
        : "the next batch is written while the one before is confirmed"
    }`,
    async () => {
      const certs = await makeCerts();
      await using receiver = await startTlsReceiver(certs, { endDelayMs: 300 });
      const out = tlsOut(certs, receiver.port, false, { maxBatchBytes: 1, batchesInFlight });
      try {
        const done: string[] = [];
        const receipts = [];
        for (let i = 0; i < 4; i++) {
          const r = await out.write(lines(10 * i, 10), 10);
          r.confirmed.then(() => done.push(`batch ${i}`));
          receipts.push(r);
          // What is confirmed by the time the write of batch i returned.
          done.push(`wrote ${i}`);
        }
        await Promise.all(receipts.map((r) => r.confirmed));
        const expected = batchesInFlight === 1
          ? ["wrote 0", "batch 0", "wrote 1", "batch 1", "wrote 2", "batch 2", "wrote 3", "batch 3"]
          : [
            "wrote 0",
            "wrote 1",
            "batch 0",
            "wrote 2",
            "batch 1",
            "wrote 3",
            "batch 2",
            "batch 3",
          ];
        assert.deepEqual(done, expected);
        assert.equal(receiver.lines.length, 40);
        assert.deepEqual(
          receiver.lines.map((l) => Number(/"i":(\d+)/.exec(l)![1])).sort((a, b) => a - b),
          Array.from({ length: 40 }, (_, i) => i),
        );
        assert.equal(out.stats.batchesConfirmed, 4);
      } finally {
        await out.close();
        await certs.cleanup();
      }
    },
  );
}

Deno.test("a rejected client certificate is never taken for delivery", async () => {
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  const out = tlsOut(certs, receiver.port, true);
  try {
    const r = await out.write(lines(0, 4), 4);
    await assert.rejects(
      r.confirmed,
      (e) => isCollectorError(e, "OUTPUT_CERT_REJECTED") && e.id === 504,
    );
    assert.equal(receiver.lines.length, 0);
    assert.equal(out.stats.eventsSent, 0);
    assert.equal(out.stats.batchesFailed, 1);
    assert.ok(receiver.handshakeErrors >= 1);
  } finally {
    await out.close();
    await certs.cleanup();
  }
});

Deno.test({
  name: "rsyslog: confirmed on its end without close_notify; a rejected certificate fails",
  ignore: !(await rsyslogAvailable()),
  async fn() {
    const certs = await makeCerts();
    await using rsyslog = await startRsyslogTls(certs);
    const good = tlsOut(certs, rsyslog.port);
    const rogue = tlsOut(certs, rsyslog.port, true);
    try {
      const r = await good.write(lines(0, 20), 20);
      await r.confirmed;
      assert.equal((await rsyslog.waitForLines(20, 10_000)).length, 20);
      const bad = await rogue.write(lines(100, 5), 5);
      await assert.rejects(bad.confirmed, (e) => isCollectorError(e, "OUTPUT_CERT_REJECTED"));
      await delay(300);
      assert.equal((await rsyslog.readLines()).length, 20);
    } finally {
      await good.close();
      await rogue.close();
      await certs.cleanup();
    }
  },
});

Deno.test({
  name: "rsyslog: full batches in a row, on connections opened ahead, arrive once each",
  ignore: !(await rsyslogAvailable()),
  async fn() {
    const certs = await makeCerts();
    await using rsyslog = await startRsyslogTls(certs);
    // Every batch is full (one write of 20 lines each), so each next batch's connection is
    // opened while the one before is written; rsyslog ends connections without close_notify.
    const out = tlsOut(certs, rsyslog.port, false, {
      batchesInFlight: 2,
      maxBatchBytes: lines(0, 20).length,
      lingerMs: 60_000,
      commitIntervalMs: 60_000,
    });
    try {
      const receipts = [];
      for (let b = 0; b < 10; b++) receipts.push(await out.write(lines(b * 20, 20), 20));
      await out.flush();
      for (const r of receipts) await r.confirmed;
      const got = await rsyslog.waitForLines(200, 10_000);
      const ids = got.map((l) => Number(/"i":(\d+)/.exec(l)![1])).sort((a, b) => a - b);
      assert.deepEqual(ids, Array.from({ length: 200 }, (_, i) => i));
      assert.equal(out.stats.retries, 0);
      assert.equal(out.stats.batchesConfirmed, 10);
    } finally {
      await out.close();
      await certs.cleanup();
    }
  },
});

Deno.test("a batch cut off by the receiver is sent again whole on a new connection", async () => {
  await using receiver = await startTcpReceiver({ closeAfterLines: 10 });
  const out = new ConfirmedStreamOutput(
    tcpConnector({ address: "127.0.0.1", port: receiver.port }),
    {
      name: "relay_test",
      retries: 2,
      retryBaseMs: 20,
      maxBatchBytes: 1,
    },
  );
  try {
    // 12 lines in one batch: every connection dies after 10, so the batch never confirms.
    const cut = await out.write(lines(0, 12), 12);
    await assert.rejects(cut.confirmed, (e) => isCollectorError(e) && e.family === "DeliveryError");
    assert.equal(out.stats.eventsSent, 0);
    // Batches of 5 lines fit: each confirms.
    const receipts = [];
    for (let i = 0; i < 4; i++) receipts.push(await out.write(lines(100 + 5 * i, 5), 5));
    await Promise.all(receipts.map((r) => r.confirmed));
    assert.equal(out.stats.eventsSent, 20);
    const tail = receiver.lines.filter((l) => /"i":1\d\d/.test(l));
    assert.equal(tail.length, 20);
  } finally {
    await out.close();
  }
});

Deno.test("a receiver that is down for a while gets every event once it is back", async () => {
  const first = await startTcpReceiver();
  const port = first.port;
  await first.close();
  const out = new ConfirmedStreamOutput(tcpConnector({ address: "127.0.0.1", port }), {
    name: "relay_test",
    retries: 8,
    retryBaseMs: 100,
  });
  let receiver;
  try {
    const r = await out.write(lines(0, 7), 7);
    await delay(700);
    receiver = await startTcpReceiver({ port });
    await r.confirmed;
    assert.equal(receiver.lines.length, 7);
    assert.ok(out.stats.retries >= 1);
  } finally {
    await out.close();
    await receiver?.close();
  }
});

Deno.test("a certificate alert from the receiver is a rejected certificate (504), our own refusal of its certificate a TLS failure (501)", () => {
  const rejected = classifyConnError(
    new Error("received fatal alert: CertificateRequired"),
    "devo:443",
    "connect",
  );
  assert.ok(isCollectorError(rejected, "OUTPUT_CERT_REJECTED") && rejected.id === 504);
  assert.equal(rejected.retryable, true);
  const ours = classifyConnError(
    new Error("invalid peer certificate: UnknownIssuer"),
    "devo:443",
    "connect",
  );
  assert.ok(isCollectorError(ours, "OUTPUT_TLS") && ours.id === 501);
  const reset = classifyConnError(new Deno.errors.ConnectionReset("reset"), "devo:443", "send");
  assert.ok(isCollectorError(reset, "OUTPUT_WRITE"));
});
