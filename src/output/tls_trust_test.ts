import assert from "node:assert/strict";
import { describeWidenings, envTrustWidenings } from "./tls_trust.ts";

Deno.test("DENO_CERT and a system store widen the Devo trust; the built-in store alone does not", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.deepEqual(envTrustWidenings(env({})), []);
  assert.deepEqual(envTrustWidenings(env({ DENO_TLS_CA_STORE: "mozilla", DENO_CERT: " " })), []);
  const both = envTrustWidenings(env({ DENO_CERT: "/x.pem", DENO_TLS_CA_STORE: "mozilla,system" }));
  assert.equal(describeWidenings(both), "DENO_CERT=/x.pem and DENO_TLS_CA_STORE=mozilla,system");
});
