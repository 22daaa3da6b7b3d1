import assert from "node:assert/strict";
import { makeCerts, type TestCerts } from "./certs.ts";
import { motoEnv, motoFetch, startMoto } from "./moto.ts";
import { rsyslogAvailable, startRsyslogTls } from "./rsyslog.ts";
import { startTcpReceiver, startTlsReceiver } from "./tls_receiver.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Reads until EOF; a peer that closes without TLS close_notify (`UnexpectedEof`) also ends it.
 * Closes `conn` and throws when no EOF arrives within `timeoutMs`, so a missing half-close
 * answer fails the test instead of hanging it. Callers must not close `conn` again.
 */
async function readToEnd(conn: Deno.Conn, timeoutMs = 5_000): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, timeoutMs);
  try {
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (e) {
        if (timedOut) throw new Error(`No EOF within ${timeoutMs} ms`);
        if (e instanceof Deno.errors.UnexpectedEof) break;
        throw e;
      }
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
    }
  } finally {
    clearTimeout(timer);
    if (!timedOut) conn.close();
  }
  return text;
}

/** Closes `conn` unless it is already closed. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

function connectClient(port: number, certs: TestCerts, rogue = false): Promise<Deno.TlsConn> {
  return Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [certs.caCert],
    cert: rogue ? certs.rogueClientCert : certs.clientCert,
    key: rogue ? certs.rogueClientKey : certs.clientKey,
  });
}

async function waitUntil(what: string, predicate: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("makeCerts writes v3 PEM files that openssl verifies against the right CA", async () => {
  const certs = await makeCerts();
  try {
    assert.ok(
      certs.clientKey.startsWith("-----BEGIN PRIVATE KEY-----"),
      "client key is not PKCS#8",
    );
    assert.deepEqual(await Deno.readTextFile(certs.serverCertPath), certs.serverCert);
    const verify = async (ca: string, cert: string) =>
      (await new Deno.Command("openssl", {
        args: ["verify", "-CAfile", ca, cert],
        stdout: "null",
        stderr: "null",
      }).output()).success;
    assert.ok(await verify(certs.caCertPath, certs.serverCertPath));
    assert.ok(await verify(certs.caCertPath, certs.clientCertPath));
    assert.ok(await verify(certs.rogueCaCertPath, certs.rogueClientCertPath));
    assert.ok(!await verify(certs.caCertPath, certs.rogueClientCertPath), "rogue cert verified");
  } finally {
    await certs.cleanup();
  }
  await assert.rejects(() => Deno.stat(certs.dir), Deno.errors.NotFound);
});

Deno.test("moto answers an SQS CreateQueue from the aws CLI and stops", async () => {
  const moto = await startMoto();
  try {
    const aws = (...args: string[]) =>
      new Deno.Command("aws", {
        args: ["--endpoint-url", moto.endpoint, "--output", "json", ...args],
        env: motoEnv(moto.endpoint),
        stdin: "null",
      }).output();
    const created = await aws("sqs", "create-queue", "--queue-name", "helpers-test");
    assert.ok(created.success, decoder.decode(created.stderr));
    const { QueueUrl } = JSON.parse(decoder.decode(created.stdout));
    assert.ok(String(QueueUrl).endsWith("/helpers-test"), `unexpected QueueUrl ${QueueUrl}`);
    const listed = await aws("sqs", "list-queues");
    assert.ok(listed.success, decoder.decode(listed.stderr));
    assert.deepEqual(JSON.parse(decoder.decode(listed.stdout)).QueueUrls, [QueueUrl]);
  } finally {
    await moto.stop();
  }
  await assert.rejects(() => motoFetch(moto.endpoint, "/moto-api/"));
});

Deno.test("TLS receiver records lines from a client with the trusted certificate", async () => {
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  try {
    const conn = await connectClient(receiver.port, certs);
    try {
      await conn.write(encoder.encode('<14>first line\n<14>second {"k":"é"}\n<14>thi'));
      // A multi-byte character split across two TCP segments must come out whole.
      const euro = encoder.encode("€");
      await conn.write(new Uint8Array([...encoder.encode("rd "), euro[0]]));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await conn.write(new Uint8Array([...euro.subarray(1), 10]));
      await conn.closeWrite();
      assert.deepEqual(await readToEnd(conn), "");
    } finally {
      closeQuietly(conn);
    }
    assert.deepEqual(await receiver.waitForLines(3, 5_000), [
      "<14>first line",
      '<14>second {"k":"é"}',
      "<14>third €",
    ]);
    assert.deepEqual(receiver.connections, 1);
    assert.deepEqual(receiver.handshakeErrors, 0);
    assert.deepEqual(receiver.fragments, []);
  } finally {
    await certs.cleanup();
  }
});

Deno.test("TLS receiver rejects a client certificate from an untrusted CA", async () => {
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  try {
    const conn = await connectClient(receiver.port, certs, true);
    let outcome: string;
    try {
      // With TLS 1.3 the client finishes its handshake before the server checks its
      // certificate: the rejection shows up on a later write or read.
      await conn.handshake();
      await conn.write(encoder.encode("<14>must not arrive\n"));
      outcome = (await readToEnd(conn)) === "" ? "closed" : "got data";
    } catch (e) {
      outcome = String(e).includes("No EOF") ? "left open" : "failed";
    } finally {
      closeQuietly(conn);
    }
    assert.ok(outcome === "closed" || outcome === "failed", `rogue connection ${outcome}`);
    await waitUntil("a handshake error", () => receiver.handshakeErrors === 1);
    assert.deepEqual(receiver.connections, 0);
    assert.deepEqual(receiver.lines, []);
  } finally {
    await certs.cleanup();
  }
});

Deno.test("a client that trusts only the rogue CA rejects the receiver", async () => {
  const certs = await makeCerts();
  await using receiver = await startTlsReceiver(certs);
  try {
    await assert.rejects(async () => {
      const conn = await Deno.connectTls({
        hostname: "localhost",
        port: receiver.port,
        caCerts: [certs.rogueCaCert],
        cert: certs.clientCert,
        key: certs.clientKey,
      });
      try {
        await conn.handshake();
      } finally {
        closeQuietly(conn);
      }
    });
    assert.deepEqual(receiver.connections, 0);
  } finally {
    await certs.cleanup();
  }
});

Deno.test("TLS receiver closeAfterLines drops the connection and port restarts work", async () => {
  const certs = await makeCerts();
  try {
    const first = await startTlsReceiver(certs, { closeAfterLines: 2 });
    const port = first.port;
    try {
      const conn = await connectClient(port, certs);
      try {
        await conn.write(encoder.encode("a\nb\nc\n"));
        assert.deepEqual(await readToEnd(conn).catch(() => ""), "");
      } finally {
        closeQuietly(conn);
      }
      assert.deepEqual(await first.waitForLines(2, 5_000), ["a", "b"]);
      await waitUntil("the connection to close", () => first.activeConnections === 0);
      assert.deepEqual(first.lines, ["a", "b"]);
    } finally {
      await first.close();
    }
    await using second = await startTlsReceiver(certs, { port });
    assert.deepEqual(second.port, port);
    const conn = await connectClient(port, certs);
    try {
      await conn.write(encoder.encode("again\n"));
      await conn.closeWrite();
      await readToEnd(conn);
    } finally {
      closeQuietly(conn);
    }
    assert.deepEqual(await second.waitForLines(1, 5_000), ["again"]);
    await assert.rejects(() => second.waitForLines(2, 100), /1 of 2 lines/);
  } finally {
    await certs.cleanup();
  }
});

Deno.test("TCP receiver records lines and answers a half-close with EOF", async () => {
  await using receiver = await startTcpReceiver();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: receiver.port });
  try {
    await conn.write(encoder.encode("<14>one\n<14>two\n<14>partial"));
    await conn.closeWrite();
    assert.deepEqual(await readToEnd(conn), "");
  } finally {
    closeQuietly(conn);
  }
  assert.deepEqual(await receiver.waitForLines(2, 5_000), ["<14>one", "<14>two"]);
  await waitUntil("the fragment", () => receiver.fragments.length === 1);
  assert.deepEqual(receiver.fragments, ["<14>partial"]);
  assert.deepEqual(receiver.connections, 1);
});

const haveRsyslog = await rsyslogAvailable();

Deno.test({
  name: "rsyslog receives a raw line over mutual TLS and ignores a rogue client",
  ignore: !haveRsyslog,
  fn: async () => {
    const certs = await makeCerts();
    try {
      await using rsyslog = await startRsyslogTls(certs);
      const send = async (line: string, rogue: boolean) => {
        const conn = await connectClient(rsyslog.port, certs, rogue);
        try {
          await conn.handshake();
          await conn.write(encoder.encode(line + "\n"));
          await conn.closeWrite();
          await readToEnd(conn);
        } catch (e) {
          if (!rogue) throw e;
        } finally {
          closeQuietly(conn);
        }
      };
      const line = '<14>2024-05-01T12:00:00.000Z host my.app.seclake.ocsf: {"class_uid":3002,' +
        '"msg":"naïve € \\"quoted\\""}';
      await send("<14>2024-05-01T12:00:00.000Z host rogue.tag: {}", true);
      await send(line, false);
      assert.deepEqual(await rsyslog.waitForLines(1, 10_000), [line]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.deepEqual(await rsyslog.readLines(), [line]);
      assert.match(await rsyslog.readErrors(), /not permitted to talk to peer/);
    } finally {
      await certs.cleanup();
    }
  },
});
