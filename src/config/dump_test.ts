import assert from "node:assert/strict";
import { parseConfig } from "./load.ts";
import { MASKED, maskedKeys, redactConfig } from "./dump.ts";

const YAML = `outputs: { c: { type: console } }
inputs:
  lake:
    credentials:
      aws_access_key_id: AKIAIOSFODNN7EXAMPLE
      aws_secret_access_key: "\${SECRET}"
      aws_session_token: token-value-1234
      role_arn: arn:aws:iam::123456789012:role/seclake
      external_id: external-id-5678
    region: us-east-1
    queue_name: q
    proxy_url: "http://seclake:proxy-pass-7788@proxy.example.com:3128"
    services:
      events:
        obfuscation:
          - { paths: [actor.user.name], method: hash, hash_key: hash-key-9012-3456-7890 }
`;

Deno.test("dumps mask every secret and masked setting of the schema", () => {
  assert.deepEqual(
    [...maskedKeys()].sort(),
    ["aws_secret_access_key", "aws_session_token", "external_id", "hash_key", "proxy_url"],
  );
  const config = parseConfig(YAML, {
    env: (n) => (n === "SECRET" ? "secret-value-3456" : undefined),
  });
  assert.equal(config.inputs[0]!.credentials.aws_secret_access_key, "secret-value-3456");
  const dump = JSON.stringify(redactConfig(config));
  for (
    const s of [
      "secret-value-3456",
      "token-value-1234",
      "external-id-5678",
      "hash-key-9012",
      "proxy-pass-7788",
    ]
  ) {
    assert.ok(!dump.includes(s), `${s} in ${dump}`);
  }
  assert.ok(dump.includes(`"aws_secret_access_key":"${MASKED}"`));
  assert.ok(dump.includes('"aws_access_key_id":"AKIAIOSFODNN7EXAMPLE"'));
  assert.ok(dump.includes('"role_arn":"arn:aws:iam::123456789012:role/seclake"'));
});

Deno.test("a *_file secret is read from its file, relative to the configuration", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/secret`, "from-a-file-7890\n");
    const yaml = YAML.replace(
      'aws_secret_access_key: "${SECRET}"',
      "aws_secret_access_key_file: secret",
    );
    const config = parseConfig(yaml, { baseDir: dir, env: () => undefined });
    assert.equal(config.inputs[0]!.credentials.aws_secret_access_key, "from-a-file-7890");
    assert.ok(!JSON.stringify(redactConfig(config)).includes("from-a-file-7890"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
