import assert from "node:assert/strict";
import { inputNetwork, maskUrl, parseProxy } from "./network.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];
const host = (u: string) => new URL(u);

Deno.test("endpoints: each service's own setting, else endpoint_url, else AWS's", () => {
  const none = inputNetwork({}, env({}));
  assert.equal(none.endpoint("sqs"), undefined);
  assert.equal(none.s3PathStyle, false);
  const one = inputNetwork({ endpoint_url: "https://stand-in:4566" }, env({}));
  for (const s of ["sqs", "s3", "sts"] as const) {
    assert.equal(one.endpoint(s), "https://stand-in:4566");
  }
  assert.equal(one.s3PathStyle, true);
  const apart = inputNetwork({
    endpoint_url: "https://stand-in:4566",
    s3_endpoint_url: "https://bucket.vpce-1.s3.eu-west-1.vpce.amazonaws.com",
    s3_force_path_style: false,
    use_fips_endpoint: true,
  }, env({}));
  assert.equal(apart.endpoint("s3"), "https://bucket.vpce-1.s3.eu-west-1.vpce.amazonaws.com");
  assert.equal(apart.endpoint("sqs"), "https://stand-in:4566");
  assert.equal(apart.s3PathStyle, false);
  assert.equal(apart.fips, true);
});

Deno.test("trust: ca_bundle wins over AWS_CA_BUNDLE; an empty variable counts as unset", () => {
  assert.deepEqual(
    inputNetwork({ ca_bundle: "/a.pem" }, env({ AWS_CA_BUNDLE: "/b.pem" })).trust,
    { path: "/a.pem", from: "ca_bundle" },
  );
  assert.deepEqual(inputNetwork({}, env({ AWS_CA_BUNDLE: "/b.pem" })).trust, {
    path: "/b.pem",
    from: "AWS_CA_BUNDLE",
  });
  assert.equal(inputNetwork({}, env({ AWS_CA_BUNDLE: " " })).trust, undefined);
});

Deno.test("proxy: proxy_url, else the scheme's variable (lower case first); NO_PROXY bypasses either", () => {
  const vars = {
    HTTPS_PROXY: "http://upper:3128",
    https_proxy: "http://lower:3128",
    HTTP_PROXY: "plain:8080",
    NO_PROXY: "internal.example, .corp.example,10.0.0.5,vpce.example:8443",
  };
  const n = inputNetwork({}, env(vars));
  assert.equal(n.proxyFor(host("https://sqs.eu-west-1.amazonaws.com"))?.url, "http://lower:3128");
  assert.equal(n.proxyFor(host("https://sqs.eu-west-1.amazonaws.com"))?.from, "https_proxy");
  assert.equal(n.proxyFor(host("http://127.0.0.1:5000"))?.url, "http://plain:8080");
  for (
    const direct of [
      "https://internal.example",
      "https://s3.internal.example",
      "https://a.corp.example",
      "https://corp.example",
      "https://10.0.0.5",
      "https://vpce.example:8443",
    ]
  ) assert.equal(n.proxyFor(host(direct)), undefined, direct);
  assert.ok(n.proxyFor(host("https://notinternal.example")), "a suffix matches at a dot only");
  assert.ok(n.proxyFor(host("https://vpce.example")), "a port limits the entry");
  const configured = inputNetwork({ proxy_url: "http://u:p%40ss@proxy:3128" }, env(vars));
  const p = configured.proxyFor(host("https://sts.amazonaws.com"))!;
  assert.deepEqual(p, {
    url: "http://proxy:3128",
    display: "http://u:****@proxy:3128",
    from: "proxy_url",
    basicAuth: { username: "u", password: "p@ss" },
  });
  assert.equal(configured.proxyFor(host("https://internal.example")), undefined);
  assert.equal(
    inputNetwork({}, env({ NO_PROXY: "*", HTTPS_PROXY: "p:1" })).proxyFor(host("https://x")),
    undefined,
  );
  assert.equal(inputNetwork({}, env({})).proxyFor(host("https://x")), undefined);
});

Deno.test("proxy URLs: only http://, never quoting a password", () => {
  assert.throws(() => parseProxy("https://proxy:443", "HTTPS_PROXY"), /must be an http:\/\/ proxy/);
  assert.throws(() => parseProxy("socks5://proxy:1080", "proxy_url"), /must be an http:\/\/ proxy/);
  assert.throws(
    () => parseProxy("http://user:s3cret@[bad", "proxy_url"),
    (e: Error) => !e.message.includes("s3cret") && /not a URL/.test(e.message),
  );
  assert.equal(maskUrl("http://user:s3cret@host:1"), "http://user:****@host:1");
});
