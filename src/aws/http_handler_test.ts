import assert from "node:assert/strict";
import { makeCerts } from "../../tests/helpers/certs.ts";
import { CollectorError } from "../errors.ts";
import { FetchHandler, requestUrl } from "./http_handler.ts";
import type { SdkHttpRequest } from "./http_handler.ts";
import { inputNetwork } from "./network.ts";

const direct = inputNetwork({}, () => undefined);

function get(port: number, path = "/", protocol = "http:"): SdkHttpRequest {
  return { method: "GET", protocol, hostname: "localhost", port, path, headers: { host: "x" } };
}

async function text(body: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(body).text();
}

Deno.test("the query is encoded as the SDK signs it: sorted keys, RFC 3986, lists, bare keys", () => {
  const url = requestUrl({
    ...get(9000, "/bucket"),
    query: {
      "prefix": "aws/A B/(x)*!'",
      "list-type": "2",
      "continuation-token": "a+b/c=",
      "uploads": null,
      "tag": ["b", "a"],
    },
  });
  assert.equal(
    url.href,
    "http://localhost:9000/bucket?continuation-token=a%2Bb%2Fc%3D&list-type=2&prefix=aws%2FA%20B%2F%28x%29%2A%21%27&tag=b&tag=a&uploads",
  );
});

Deno.test("responses, silence past the timeouts, refusals and aborts on a loopback server", async () => {
  const stall = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/silent") return stall.promise.then(() => new Response("late"));
    if (path === "/trickle") {
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode("first piece"));
            // then nothing: the body stays open
          },
        }),
      );
    }
    return new Response(`hello ${req.headers.get("x-amz-target") ?? ""}`, {
      headers: { "x-amz-request-id": "r1" },
    });
  });
  const port = server.addr.port;
  const h = new FetchHandler({
    service: "s3",
    network: direct,
    connectTimeoutMs: 100,
    requestTimeoutMs: 300,
    idleTimeoutMs: 300,
  });
  try {
    const ok = await h.handle({ ...get(port), headers: { "x-amz-target": "AmazonSQS.Receive" } });
    assert.equal(ok.response.statusCode, 200);
    assert.equal(ok.response.headers["x-amz-request-id"], "r1");
    assert.equal(await text(ok.response.body), "hello AmazonSQS.Receive");
    assert.equal(h.lastRoute?.url, `http://localhost:${port}`);

    await assert.rejects(h.handle(get(port, "/silent")), { name: "TimeoutError" });
    const slow = await h.handle(get(port, "/trickle"));
    await assert.rejects(text(slow.response.body), { name: "TimeoutError" });

    const abort = new AbortController();
    const pending = h.handle(get(port, "/silent"), { abortSignal: abort.signal });
    abort.abort();
    await assert.rejects(pending, { name: "AbortError" });

    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const freePort = (closed.addr as Deno.NetAddr).port;
    closed.close();
    await assert.rejects(h.handle(get(freePort)), (e: Error & { code?: string }) => {
      assert.equal(e.code, "ECONNREFUSED", e.message);
      return true;
    });
  } finally {
    stall.resolve();
    h.destroy();
    await server.shutdown();
  }
});

Deno.test("TLS: an endpoint from another CA is AWS_TLS_UNTRUSTED; with that CA added it answers", async () => {
  const certs = await makeCerts();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: certs.serverCert,
    key: certs.serverKey,
    onListen() {},
  }, () => new Response("over tls"));
  const port = server.addr.port;
  const untrusted = new FetchHandler({ service: "sqs", network: direct });
  const trusted = new FetchHandler({ service: "sqs", network: direct, caPem: certs.caCert });
  try {
    await assert.rejects(untrusted.handle(get(port, "/", "https:")), (e: unknown) => {
      assert.ok(e instanceof CollectorError);
      assert.equal(e.code, "AWS_TLS_UNTRUSTED");
      assert.equal(e.retryable, true);
      assert.match(e.message, new RegExp(`SQS endpoint https://localhost:${port} is not trusted`));
      return true;
    });
    const res = await trusted.handle(get(port, "/", "https:"));
    assert.equal(await text(res.response.body), "over tls");
  } finally {
    untrusted.destroy();
    trusted.destroy();
    await server.shutdown();
    await certs.cleanup();
  }
});
