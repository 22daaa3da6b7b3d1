import assert from "node:assert/strict";
import { validateConfig } from "./load.ts";

const BASE = `globals:
  persistence:
    directory_name: ./state
outputs:
  devo:
    type: devo_platform
    config:
      address: collector-eu.devo.io
      port: 443
      chain: certs/chain.crt
      cert: certs/domain.crt
      key: certs/domain.key
inputs:
  lake:
    credentials:
      aws_access_key_id: "\${AWS_ACCESS_KEY_ID}"
      aws_secret_access_key: "\${AWS_SECRET_ACCESS_KEY}"
    region: us-east-1
    queue_name: AmazonSecurityLake-Main-Queue
    services:
      events: {}
`;

/** The messages for `text` with the given environment, files not checked unless asked. */
function messages(
  text: string,
  vars: Record<string, string> = { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "x" },
  checkFiles = false,
): string[] {
  return validateConfig(text, { env: (n) => vars[n], baseDir: "/nonexistent", checkFiles })
    .errors.map((e) => `${e.code} ${e.detail}`);
}

Deno.test("an empty ${VAR} is named as the variable to fix, not as a missing key", () => {
  assert.deepEqual(messages(BASE, { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "x" }), [
    "CONFIG_ENV_EMPTY inputs.lake.credentials.aws_access_key_id is empty: it comes from ${AWS_ACCESS_KEY_ID}, which is set but empty; export AWS_ACCESS_KEY_ID with the access key id before starting the collector (line 16)",
  ]);
});

Deno.test("a key without its colon is blamed on its line, not as an unclosed quote", () => {
  const [m] = messages(BASE.replace("    region: us-east-1", "    region us-east-1"));
  assert.equal(
    m,
    "CONFIG_YAML Configuration is not valid YAML: line 18 has no colon after its key: write region: us-east-1 (line 18, column 5)",
  );
});

Deno.test("an unclosed quote is blamed on the line that opens it", () => {
  const [m] = messages(
    BASE.replace("queue_name: AmazonSecurityLake", 'queue_name: "AmazonSecurityLake'),
  );
  assert.match(m!, /the double quote opened on line 19 is not closed.*\(line 19, column 17\)$/);
});

Deno.test("a key missing the word that completes it gets a did-you-mean", () => {
  assert.deepEqual(messages(BASE.replace("directory_name:", "directory:")), [
    "CONFIG_UNKNOWN_KEY globals.persistence.directory is not a known setting: did you mean globals.persistence.directory_name? (line 3)",
  ]);
  assert.deepEqual(
    messages(
      BASE.replace("    region: us-east-1", "    region: us-east-1\n    endpoint: http://h:1"),
    ),
    [
      "CONFIG_UNKNOWN_KEY inputs.lake.endpoint is not a known setting: did you mean inputs.lake.endpoint_url? (line 19)",
    ],
  );
});

Deno.test("missing files are reported together with the schema's errors, in line order", () => {
  const got = messages(
    BASE.replace("port: 443", "port: 99999"),
    { AWS_ACCESS_KEY_ID: "AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY: "x" },
    true,
  ).map((m) => m.replace(/ names \S+,/, " names F,"));
  assert.deepEqual(got, [
    "CONFIG_RANGE outputs.devo.config.port must be between 1 and 65535: got 99999 (line 9)",
    "CONFIG_FILE_MISSING outputs.devo.config.chain names F, which does not exist (line 10)",
    "CONFIG_FILE_MISSING outputs.devo.config.cert names F, which does not exist (line 11)",
    "CONFIG_FILE_MISSING outputs.devo.config.key names F, which does not exist (line 12)",
  ]);
});
