import assert from "node:assert/strict";
import { isCollectorError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import { closest, parseConfig, validateConfig } from "./load.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

const EXAMPLE = `globals:
  id: seclake-1
  name: security-lake-collector
  persistence: { type: filesystem, directory_name: ./state }
outputs:
  console_1:
    type: console
inputs:
  security_lake:
    id: 1
    enabled: true
    credentials: { aws_access_key_id: "\${AWS_ACCESS_KEY_ID}", aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}" }
    region: us-east-1
    queue_name: AmazonSecurityLake-0000-Main-Queue
    endpoint_url: http://127.0.0.1:5000
    services:
      events: {}
`;

const ENV = env({ AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "s3cr3t-value" });

Deno.test("the issue's example loads with defaults and ${VAR} replaced", () => {
  const c = parseConfig(EXAMPLE, { env: ENV, baseDir: "/srv/seclake" });
  assert.equal(c.globals.persistence.directory_name, "/srv/seclake/state");
  assert.equal(c.globals.log_level, "info");
  assert.equal(c.outputs[0]!.type, "console");
  const input = c.inputs[0]!;
  assert.equal(input.id, "1");
  assert.equal(input.type, "security_lake");
  assert.equal(input.credentials.aws_access_key_id, "AKIAEXAMPLE");
  assert.equal(input.credentials.aws_secret_access_key, "s3cr3t-value");
  assert.equal(input.services.events.tag, "cloud.aws.amazon.security_lake.events");
  assert.equal(input.services.events.wait_time_seconds, 20);
  assert.equal(input.services.events.max_messages, 10);
  assert.ok(Object.isFrozen(input.services.events));
});

function expectError(yaml: string, code: ErrorCode, includes: string[], vars = ENV) {
  assert.throws(
    () => parseConfig(yaml, { env: vars, baseDir: "/x" }),
    (e) => {
      assert.ok(isCollectorError(e, code), `expected ${code}, got ${e}`);
      for (const s of includes) assert.ok(e.message.includes(s), `${e.message} lacks ${s}`);
      return true;
    },
  );
}

Deno.test("the four settings Devo requires are checked, with path and line", () => {
  expectError(
    EXAMPLE.replace(/ {4}region: us-east-1\n/, ""),
    "CONFIG_MISSING",
    ["SetupError 6", "inputs.security_lake.region is required", "(line 9)"],
  );
  expectError(
    EXAMPLE.replace(/ {4}queue_name: .*\n/, ""),
    "CONFIG_MISSING",
    ["inputs.security_lake.queue_name is required"],
  );
  expectError(
    EXAMPLE.replace(/ aws_access_key_id: "\$\{AWS_ACCESS_KEY_ID\}",/, ""),
    "CONFIG_CREDENTIALS_PAIR",
    [
      "SetupError 40: inputs.security_lake.credentials.aws_access_key_id is missing while aws_secret_access_key is given",
      "(line 12)",
    ],
  );
  expectError(
    EXAMPLE,
    "CONFIG_ENV",
    ["AWS_SECRET_ACCESS_KEY, which is not set", "(line 12)"],
    env({ AWS_ACCESS_KEY_ID: "AKIAX" }),
  );
});

Deno.test("range, type, pattern and unknown-key errors name the setting and line", () => {
  expectError(
    EXAMPLE.replace("events: {}", "events: { max_messages: 25 }"),
    "CONFIG_RANGE",
    [
      "SetupError 11: inputs.security_lake.services.events.max_messages must be between 1 and 10: got 25 (line 17)",
    ],
  );
  expectError(
    EXAMPLE.replace("events: {}", "events: { wait_time_seconds: soon }"),
    "CONFIG_TYPE",
    ['wait_time_seconds must be a whole number of seconds: got "soon" (line 17)'],
  );
  expectError(EXAMPLE.replace("us-east-1", "Mars"), "CONFIG_REGION", [
    "region must be an AWS region",
  ]);
  expectError(
    EXAMPLE.replace("    region:", "    regoin: x\n    region:"),
    "CONFIG_UNKNOWN_KEY",
    ["inputs.security_lake.regoin is not a known setting: did you mean inputs.security_lake.region?"],
  );
  expectError(
    EXAMPLE.replace("type: console", "type: kafka"),
    "CONFIG_CHOICE",
    ["outputs.console_1.type must be one of devo_platform, relay, console"],
  );
});

Deno.test("secrets are never shown in messages", () => {
  expectError(
    EXAMPLE.replace(
      'aws_secret_access_key: "${AWS_SECRET_ACCESS_KEY}"',
      "aws_secret_access_key: [a]",
    ),
    "CONFIG_TYPE",
    ["aws_secret_access_key must be a string"],
  );
  assert.throws(
    () =>
      parseConfig(EXAMPLE.replace("type: console", "type: devo_platform"), {
        env: ENV,
        baseDir: "/x",
      }),
    (e) => isCollectorError(e, "CONFIG_MISSING") && !e.message.includes("s3cr3t"),
  );
});

Deno.test("YAML syntax errors give line and column; empty sections are errors", () => {
  expectError("globals: [\n", "CONFIG_YAML", ["SetupError 2", "line"]);
  expectError(
    "globals: {}\noutputs: {}\ninputs: {x: {type: directory, directory: d}}\n",
    "CONFIG_NO_OUTPUT",
    ["SetupError 10"],
  );
  expectError(
    "outputs: {c: {type: console}}\ninputs: {x: {enabled: false}}\n",
    "CONFIG_NO_INPUT",
    ["SetupError 9"],
  );
  expectError("outputs: {c: {type: console}}\n", "CONFIG_NO_INPUT", ["inputs is missing"]);
});

Deno.test("devo_platform needs readable PEM files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/chain.crt`,
      "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    );
    await Deno.writeTextFile(`${dir}/domain.crt`, "not pem");
    const yaml = EXAMPLE.replace(
      "type: console",
      "type: devo_platform\n    config: { address: collector-eu.devo.io, port: 443, chain: chain.crt, cert: domain.crt, key: domain.key }",
    );
    assert.throws(
      () => parseConfig(yaml, { env: ENV, baseDir: dir }),
      (e) => {
        assert.ok(isCollectorError(e, "CONFIG_NOT_PEM"), String(e));
        const all = [e, ...e.related].map((x) => x.message);
        assert.ok(all.some((m) => /config\.chain .* is damaged/.test(m)), all.join("\n"));
        assert.ok(
          all.some((m) => /config\.cert .* holds no PEM certificate/.test(m)),
          all.join("\n"),
        );
        assert.ok(all.some((m) => /config\.key .* does not exist/.test(m)), all.join("\n"));
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("closest suggests typos only", () => {
  assert.equal(closest("queue_nme", ["queue_name", "region"]), "queue_name");
  assert.equal(closest("zzzzzz", ["queue_name", "region"]), undefined);
});

Deno.test("historical_poll_datetime past one year: refused with the other settings, or asked of the backfillStarted hook once built", () => {
  const old = new Date(Date.now() - 400 * 86_400_000).toISOString();
  const withOld = EXAMPLE.replace(
    "    services:",
    `    bucket: aws-security-data-lake-us-east-1-abcdefghijklmnopqrstuvwxyz0123\n    historical_poll_datetime: "${old}"\n    services:`,
  );
  const codes = (text: string, options: Parameters<typeof validateConfig>[1] = {}) =>
    validateConfig(text, { env: ENV, baseDir: "/srv", ...options }).errors.map((e) => e.code);
  // Without the hook: refused in the settings pass, beside the other settings' mistakes.
  const bogus = withOld.replace(
    "  name: security-lake-collector\n",
    "  log_level: bogus\n  name: security-lake-collector\n",
  );
  const both = codes(bogus);
  assert.equal(both.length, 2, both.join());
  assert.ok(both.includes("CONFIG_HISTORICAL_TOO_OLD"), both.join());
  // With it: asked once the configuration is built, with the input's name.
  const asked: string[] = [];
  const hook = (yes: boolean) => (_c: unknown, input: string) => (asked.push(input), yes);
  assert.deepEqual(codes(withOld, { backfillStarted: hook(true) }), []);
  assert.deepEqual(asked, ["security_lake"]);
  assert.deepEqual(codes(withOld, { backfillStarted: hook(false) }), ["CONFIG_HISTORICAL_TOO_OLD"]);
  // A hook that throws is a "no"; a disabled input does not backfill, so is not asked.
  const boom = () => {
    throw new Error("boom");
  };
  assert.deepEqual(codes(withOld, { backfillStarted: boom }), ["CONFIG_HISTORICAL_TOO_OLD"]);
  const disabled = withOld.replace("    enabled: true\n", "    enabled: false\n").replace(
    "inputs:\n",
    `inputs:\n  other:\n    type: directory\n    directory: /srv\n`,
  );
  asked.length = 0;
  assert.deepEqual(codes(disabled, { backfillStarted: hook(false), checkFiles: false }), []);
  assert.deepEqual(asked, []);
});
