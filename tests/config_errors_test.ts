/**
 * One broken configuration per configuration error of the catalogue (and several for the broad
 * ones): each must yield exactly one error with the expected id, YAML path and line, must not
 * show a secret, and must stop `seclake run` and `seclake check` with exit code 78 before any
 * network connection (the test runs them without net permission).
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CATALOGUE, isCollectorError } from "../src/errors.ts";
import type { CollectorError, ErrorCode } from "../src/errors.ts";
import { loadConfig, validateConfig } from "../src/config/load.ts";
import { main } from "../src/cli/main.ts";
import { certWithDates, makeCerts } from "./helpers/certs.ts";
import type { TestCerts } from "./helpers/certs.ts";
import { runCollectorProcess } from "./helpers/collector.ts";

const SECRET = "s3cr3t-Value-XYZ";
const ENV: Record<string, string> = { SECLAKE_TEST_SECRET: SECRET, SECLAKE_TEST_EMPTY: "" };
const env = (name: string) => ENV[name];
const DAY = 86_400_000;

/** Files the cases point at, made once. */
interface Fixture {
  dir: string;
  certs: TestCerts;
  expiredCert: string;
  expiredKey: string;
  futureCert: string;
  futureKey: string;
  encryptedKey: string;
  derCert: string;
  emptyFile: string;
  secretFile: string;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function makeFixture(): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "seclake-config-errors-" });
  const certs = await makeCerts(join(dir, "certs"));
  const now = Date.now();
  await certWithDates(dir, "expired", new Date(now - 60 * DAY), new Date(now - 30 * DAY));
  await certWithDates(dir, "future", new Date(now + 30 * DAY), new Date(now + 60 * DAY));
  await openssl(dir, [
    "pkey",
    "-in",
    certs.clientKeyPath,
    "-aes256",
    "-passout",
    "pass:x",
    "-out",
    "encrypted.key",
  ]);
  await openssl(dir, [
    "x509",
    "-in",
    certs.clientCertPath,
    "-outform",
    "der",
    "-out",
    "client.der",
  ]);
  await Deno.writeTextFile(join(dir, "empty.txt"), "\n");
  await Deno.writeTextFile(join(dir, "secret.txt"), `${SECRET}\n`);
  return {
    dir,
    certs,
    expiredCert: join(dir, "expired.pem"),
    expiredKey: join(dir, "expired.key"),
    futureCert: join(dir, "future.pem"),
    futureKey: join(dir, "future.key"),
    encryptedKey: join(dir, "encrypted.key"),
    derCert: join(dir, "client.der"),
    emptyFile: join(dir, "empty.txt"),
    secretFile: join(dir, "secret.txt"),
  };
}

/** A valid configuration; each case changes one thing. Line numbers are in the comments. */
function base(f: Fixture): string {
  return [
    "globals:", //                                                         1
    "  id: seclake-test", //                                               2
    "  name: seclake-test", //                                             3
    "  persistence: { type: filesystem, directory_name: ./state }", //     4
    "outputs:", //                                                         5
    "  devo_1:", //                                                        6
    "    type: devo_platform", //                                          7
    "    config:", //                                                      8
    "      address: collector-eu.devo.io", //                              9
    "      port: 443", //                                                 10
    `      chain: ${f.certs.caCertPath}`, //                              11
    `      cert: ${f.certs.clientCertPath}`, //                           12
    `      key: ${f.certs.clientKeyPath}`, //                             13
    "inputs:", //                                                        14
    "  security_lake:", //                                               15
    "    credentials:", //                                               16
    "      aws_access_key_id: AKIAIOSFODNN7EXAMPLE", //                  17
    '      aws_secret_access_key: "${SECLAKE_TEST_SECRET}"', //           18
    "    region: us-east-1", //                                          19
    "    queue_name: AmazonSecurityLake-0000-Main-Queue", //             20
    "    services:", //                                                  21
    "      events:", //                                                  22
    "        tag: cloud.aws.amazon.security_lake.events", //             23
    "        max_messages: 10", //                                       24
    "",
  ].join("\n");
}

interface Case {
  /** What is broken, for the step name. */
  what: string;
  code: ErrorCode;
  /** YAML path the error names ("" for file-level errors). */
  path: string;
  line: number;
  yaml: (f: Fixture) => string;
  /** Further text the message must hold. */
  says?: string[];
}

/** Replaces exactly one occurrence of `from` in the base configuration. */
function edit(from: string, to: string): (f: Fixture) => string {
  return (f) => {
    const text = base(f);
    assert.equal(text.split(from).length, 2, `the base configuration holds ${from} once`);
    return text.replace(from, to);
  };
}

/** Inserts `lines` after line `after` (1-based) of the base configuration. */
function insert(after: number, ...lines: string[]): (f: Fixture) => string {
  return (f) => {
    const all = base(f).split("\n");
    all.splice(after, 0, ...lines);
    return all.join("\n");
  };
}

const IN = "inputs.security_lake";
const EV = `${IN}.services.events`;
const OUT = "outputs.devo_1.config";
const day = (offset: number) => new Date(Date.now() + offset * DAY).toISOString();

const CASES: Case[] = [
  {
    what: "YAML with a tab used for indenting",
    code: "CONFIG_YAML",
    path: "",
    line: 19,
    yaml: edit("    region: us-east-1", "\tregion: us-east-1"),
    says: ["line 19, column"],
  },
  {
    what: "YAML with an unclosed flow mapping",
    code: "CONFIG_YAML",
    path: "",
    line: 5,
    yaml: edit("directory_name: ./state }", "directory_name: ./state"),
  },
  {
    what: "the same key twice",
    code: "CONFIG_DUPLICATE_KEY",
    path: "",
    line: 20,
    yaml: insert(19, "    region: us-west-2"),
    says: ['"region" is given twice'],
  },
  {
    what: "an empty file",
    code: "CONFIG_NOT_MAPPING",
    path: "",
    line: 1,
    yaml: () => "# nothing yet\n",
    says: ["is empty"],
  },
  {
    what: "a list at the top level",
    code: "CONFIG_NOT_MAPPING",
    path: "",
    line: 1,
    yaml: () => "- globals\n- outputs\n",
  },
  {
    what: "a misspelt key",
    code: "CONFIG_UNKNOWN_KEY",
    path: `${IN}.regoin`,
    line: 19,
    yaml: edit("    region: us-east-1", "    regoin: us-east-1\n    region: us-east-1"),
    says: [`did you mean ${IN}.region?`],
  },
  {
    what: "a service setting placed on the input",
    code: "CONFIG_UNKNOWN_KEY",
    path: `${IN}.wait_time_seconds`,
    line: 20,
    yaml: insert(19, "    wait_time_seconds: 5"),
    says: [`it belongs under ${EV}`],
  },
  {
    what: "region missing",
    code: "CONFIG_MISSING",
    path: `${IN}.region`,
    line: 15,
    yaml: edit("    region: us-east-1\n", ""),
    says: ["is required: add it, e.g. region: us-east-1"],
  },
  {
    what: "region empty",
    code: "CONFIG_MISSING",
    path: `${IN}.region`,
    line: 19,
    yaml: edit("    region: us-east-1", "    region:"),
    says: ["region is empty: add it, e.g. region: us-east-1"],
  },
  {
    what: "queue_name and queue_url both missing",
    code: "CONFIG_MISSING",
    path: `${IN}.queue_name`,
    line: 15,
    yaml: edit("    queue_name: AmazonSecurityLake-0000-Main-Queue\n", ""),
    says: ["(or queue_url, or queue_arn)"],
  },
  {
    what: "devo_platform without address",
    code: "CONFIG_MISSING",
    path: `${OUT}.address`,
    line: 8,
    yaml: edit("      address: collector-eu.devo.io\n", ""),
    says: ["is required for output type devo_platform", "collector-eu.devo.io"],
  },
  {
    what: "output without type",
    code: "CONFIG_MISSING",
    path: "outputs.devo_1.type",
    line: 6,
    yaml: edit("    type: devo_platform\n", ""),
  },
  {
    what: "no credentials at all",
    code: "CONFIG_MISSING",
    path: `${IN}.credentials.aws_access_key_id`,
    line: 16,
    yaml: edit(
      '      aws_access_key_id: AKIAIOSFODNN7EXAMPLE\n      aws_secret_access_key: "${SECLAKE_TEST_SECRET}"',
      "      {}",
    ),
  },
  {
    what: "a list where a string belongs",
    code: "CONFIG_TYPE",
    path: "globals.name",
    line: 3,
    yaml: edit("  name: seclake-test", "  name: [a, b]"),
    says: ["must be a string: got a list"],
  },
  {
    what: "a word where an integer belongs",
    code: "CONFIG_TYPE",
    path: `${EV}.max_messages`,
    line: 24,
    yaml: edit("max_messages: 10", "max_messages: ten"),
    says: ['must be a whole number: got "ten"'],
  },
  {
    what: "a quoted integer",
    code: "CONFIG_TYPE",
    path: `${OUT}.port`,
    line: 10,
    yaml: edit("      port: 443", '      port: "443"'),
    says: ["write it without quotes"],
  },
  {
    what: "yes where a boolean belongs",
    code: "CONFIG_TYPE",
    path: `${EV}.add_pulling_id`,
    line: 25,
    yaml: insert(24, "        add_pulling_id: yes"),
    says: ['must be true or false: got "yes"'],
  },
  {
    what: "a list where an object belongs",
    code: "CONFIG_TYPE",
    path: `${IN}.services`,
    line: 21,
    yaml: edit(
      "    services:\n      events:\n        tag: cloud.aws.amazon.security_lake.events\n        max_messages: 10",
      "    services: [events]",
    ),
    says: ["must be an object"],
  },
  {
    what: "a string where a list belongs",
    code: "CONFIG_TYPE",
    path: `${EV}.include_sources`,
    line: 25,
    yaml: insert(24, "        include_sources: CLOUD_TRAIL_MGMT"),
    says: ["must be a list"],
  },
  {
    what: "a secret of the wrong type, masked",
    code: "CONFIG_TYPE",
    path: `${IN}.credentials.aws_secret_access_key`,
    line: 18,
    yaml: edit('aws_secret_access_key: "${SECLAKE_TEST_SECRET}"', "aws_secret_access_key: true"),
  },
  {
    what: "an unset environment variable",
    code: "CONFIG_ENV",
    path: `${IN}.credentials.aws_access_key_id`,
    line: 17,
    yaml: edit("AKIAIOSFODNN7EXAMPLE", '"${SECLAKE_UNSET_VARIABLE}"'),
    says: ["SECLAKE_UNSET_VARIABLE, which is not set"],
  },
  {
    what: "an access key from a variable that is set but empty",
    code: "CONFIG_ENV_EMPTY",
    path: `${IN}.credentials.aws_access_key_id`,
    line: 17,
    yaml: edit("AKIAIOSFODNN7EXAMPLE", '"${SECLAKE_TEST_EMPTY}"'),
    says: ["SECLAKE_TEST_EMPTY}, which is set but empty; export SECLAKE_TEST_EMPTY"],
  },
  {
    what: "the only input disabled",
    code: "CONFIG_NO_INPUT",
    path: "inputs",
    line: 14,
    yaml: insert(15, "    enabled: false"),
  },
  {
    what: "no inputs section",
    code: "CONFIG_NO_INPUT",
    path: "inputs",
    line: 0,
    yaml: (f) => base(f).split("inputs:")[0]!,
  },
  {
    what: "an empty outputs section",
    code: "CONFIG_NO_OUTPUT",
    path: "outputs",
    line: 5,
    yaml: (f) => base(f).replace(/outputs:\n[\s\S]*?inputs:/, "outputs: {}\ninputs:"),
  },
  {
    what: "max_messages above the SQS limit",
    code: "CONFIG_RANGE",
    path: `${EV}.max_messages`,
    line: 24,
    yaml: edit("max_messages: 10", "max_messages: 25"),
    says: [`SetupError 11: ${EV}.max_messages must be between 1 and 10: got 25 (line 24)`],
  },
  {
    what: "a port above 65535",
    code: "CONFIG_RANGE",
    path: `${OUT}.port`,
    line: 10,
    yaml: edit("      port: 443", "      port: 70000"),
  },
  {
    what: "a size below the minimum",
    code: "CONFIG_RANGE",
    path: `${OUT}.max_batch_bytes`,
    line: 14,
    yaml: insert(13, "      max_batch_bytes: 512"),
    says: ["must be between 1 KiB and 1 GiB: got 512 bytes"],
  },
  {
    what: "a log format that does not exist",
    code: "CONFIG_CHOICE",
    path: "globals.log_format",
    line: 5,
    yaml: insert(4, "  log_format: jsn"),
    says: ["must be one of text, json", "did you mean json?"],
  },
  {
    what: "reset_persistence_auth as a number",
    code: "CONFIG_RESET_AUTH",
    path: `${IN}.reset_persistence_auth`,
    line: 21,
    yaml: insert(20, "    reset_persistence_auth: 2024"),
    says: ['quote it, e.g. "2024"'],
  },
  {
    what: "historical_poll_datetime as a number",
    code: "CONFIG_HISTORICAL_TYPE",
    path: `${IN}.historical_poll_datetime`,
    line: 21,
    yaml: insert(20, "    historical_poll_datetime: 1714521600"),
  },
  {
    what: "historical_poll_datetime without a time",
    code: "CONFIG_HISTORICAL_FORMAT",
    path: `${IN}.historical_poll_datetime`,
    line: 21,
    yaml: insert(20, "    historical_poll_datetime: 2024-05-01"),
  },
  {
    what: "historical_poll_datetime on a day that does not exist",
    code: "CONFIG_HISTORICAL_FORMAT",
    path: `${IN}.historical_poll_datetime`,
    line: 21,
    yaml: insert(
      20,
      `    historical_poll_datetime: "${new Date().getUTCFullYear()}-02-30T00:00:00Z"`,
    ),
  },
  {
    what: "historical_poll_datetime more than a year back",
    code: "CONFIG_HISTORICAL_TOO_OLD",
    path: `${IN}.historical_poll_datetime`,
    line: 21,
    yaml: insert(20, `    historical_poll_datetime: "${day(-400)}"`),
    says: ["at most 365 days back"],
  },
  {
    what: "historical_poll_datetime in the future",
    code: "CONFIG_HISTORICAL_FUTURE",
    path: `${IN}.historical_poll_datetime`,
    line: 21,
    yaml: insert(20, `    historical_poll_datetime: "${day(1)}"`),
  },
  {
    what: "an obfuscation path with an empty segment",
    code: "CONFIG_PATTERN",
    path: `${EV}.obfuscation[0].paths[0]`,
    line: 28,
    yaml: insert(
      24,
      "        obfuscation:",
      "          - method: drop",
      "            paths:",
      "              - actor..user",
    ),
  },
  {
    what: "a masked external id of the wrong form",
    code: "CONFIG_PATTERN",
    path: `${IN}.credentials.external_id`,
    line: 20,
    yaml: insert(
      18,
      "      role_arn: arn:aws:iam::123456789012:role/seclake",
      '      external_id: "${SECLAKE_TEST_SECRET} !"',
    ),
    says: ['got "****"'],
  },
  {
    what: "an availability zone as region",
    code: "CONFIG_REGION",
    path: `${IN}.region`,
    line: 19,
    yaml: edit("region: us-east-1", "region: us-east-1a"),
    says: ["the region is us-east-1"],
  },
  {
    what: "a queue URL as queue_name",
    code: "CONFIG_QUEUE_NAME",
    path: `${IN}.queue_name`,
    line: 20,
    yaml: edit(
      "queue_name: AmazonSecurityLake-0000-Main-Queue",
      "queue_name: https://sqs.us-east-1.amazonaws.com/123456789012/q",
    ),
    says: ["a URL goes in queue_url"],
  },
  {
    what: "a one-word tag",
    code: "CONFIG_TAG",
    path: `${EV}.tag`,
    line: 23,
    yaml: edit("tag: cloud.aws.amazon.security_lake.events", "tag: events"),
  },
  {
    what: "an address with a scheme",
    code: "CONFIG_ADDRESS",
    path: `${OUT}.address`,
    line: 9,
    yaml: edit("address: collector-eu.devo.io", "address: https://collector-eu.devo.io"),
    says: ["leave out the scheme"],
  },
  {
    what: "an endpoint without a scheme",
    code: "CONFIG_URL",
    path: `${IN}.endpoint_url`,
    line: 21,
    yaml: insert(20, "    endpoint_url: localhost:4566"),
  },
  {
    what: "a short account id",
    code: "CONFIG_ACCOUNT_ID",
    path: `${IN}.queue_account_id`,
    line: 21,
    yaml: insert(20, '    queue_account_id: "12345"'),
  },
  {
    what: "a queue URL as queue_arn",
    code: "CONFIG_QUEUE_ARN",
    path: `${IN}.queue_arn`,
    line: 20,
    yaml: edit(
      "    queue_name: AmazonSecurityLake-0000-Main-Queue",
      "    queue_arn: https://sqs.us-east-1.amazonaws.com/123456789012/q",
    ),
    says: ["a URL goes in queue_url"],
  },
  {
    what: "an account filter value with a slash",
    code: "CONFIG_PARTITION_VALUE",
    path: `${IN}.accounts[1]`,
    line: 21,
    yaml: insert(20, '    accounts: ["123456789012", "external/acme"]'),
  },
  {
    what: "a region filter value with spaces",
    code: "CONFIG_PARTITION_VALUE",
    path: `${IN}.regions[0]`,
    line: 21,
    yaml: insert(20, '    regions: ["US East (N. Virginia)"]'),
  },
  {
    what: "a user ARN as role_arn",
    code: "CONFIG_ROLE_ARN",
    path: `${IN}.credentials.role_arn`,
    line: 19,
    yaml: insert(18, "      role_arn: arn:aws:iam::123456789012:user/bob"),
  },
  {
    what: "an s3:// URL as bucket",
    code: "CONFIG_BUCKET",
    path: `${IN}.bucket`,
    line: 21,
    yaml: insert(20, "    bucket: s3://aws-security-data-lake-us-east-1-x/aws"),
  },
  {
    what: "a misspelt source name",
    code: "CONFIG_SOURCE_NAME",
    path: `${EV}.include_sources[1]`,
    line: 25,
    yaml: insert(24, "        include_sources: [VPC_FLOW, CLOUD_TRIAL_MGMT]"),
    says: ["did you mean CLOUD_TRAIL_MGMT?"],
  },
  {
    what: "a URL as metrics listen address",
    code: "CONFIG_LISTEN",
    path: "globals.metrics.listen",
    line: 5,
    yaml: insert(4, "  metrics: { listen: http://0.0.0.0:9464 }"),
  },
  {
    what: "a regular expression that does not compile",
    code: "CONFIG_REGEX",
    path: `${EV}.obfuscation[0].string_patterns[0]`,
    line: 26,
    yaml: insert(
      24,
      "        obfuscation:",
      "          - string_patterns: ['(\\d+']",
      "            method: mask",
    ),
    says: ["Unterminated group"],
  },
  {
    what: "a hash_key too short to keep pseudonyms from being reversed",
    code: "CONFIG_HASH_KEY_SHORT",
    path: `${EV}.obfuscation[0].hash_key`,
    line: 27,
    yaml: insert(
      24,
      "        obfuscation:",
      "          - paths: [actor.user.email_addr]",
      "            hash_key: Zq8",
      "            method: hash",
    ),
    says: ["3 bytes long", "at least 16"],
  },
  {
    what: "a regular expression that needs backtracking",
    code: "CONFIG_REGEX_NOT_LINEAR",
    path: `${EV}.obfuscation[0].string_patterns[0]`,
    line: 26,
    yaml: insert(
      24,
      "        obfuscation:",
      "          - string_patterns: ['(\\w+)@\\1']",
      "            method: mask",
    ),
    says: ["a backreference", "cannot run in linear time"],
  },
  {
    what: "a chain file that does not exist",
    code: "CONFIG_FILE_MISSING",
    path: `${OUT}.chain`,
    line: 11,
    yaml: (f) => base(f).replace(f.certs.caCertPath, join(f.dir, "nowhere.pem")),
  },
  {
    what: "a secret file that does not exist",
    code: "CONFIG_FILE_MISSING",
    path: `${IN}.credentials.aws_secret_access_key_file`,
    line: 18,
    yaml: (f) =>
      base(f).replace(
        'aws_secret_access_key: "${SECLAKE_TEST_SECRET}"',
        `aws_secret_access_key_file: ${join(f.dir, "missing.txt")}`,
      ),
  },
  {
    what: "a folder as cert",
    code: "CONFIG_FILE_UNREADABLE",
    path: `${OUT}.cert`,
    line: 12,
    yaml: (f) => base(f).replace(f.certs.clientCertPath, f.dir),
    says: ["is a folder"],
  },
  {
    what: "an empty secret file",
    code: "CONFIG_FILE_EMPTY",
    path: `${IN}.credentials.aws_secret_access_key_file`,
    line: 18,
    yaml: (f) =>
      base(f).replace(
        'aws_secret_access_key: "${SECLAKE_TEST_SECRET}"',
        `aws_secret_access_key_file: ${f.emptyFile}`,
      ),
  },
  {
    what: "a CA bundle without a certificate",
    code: "CONFIG_CA_BUNDLE",
    path: `${IN}.ca_bundle`,
    line: 20,
    yaml: (f) =>
      base(f).replace(
        "    region: us-east-1\n",
        `    region: us-east-1\n    ca_bundle: ${f.certs.clientKeyPath}\n`,
      ),
    says: ["holds no PEM certificate"],
  },
  {
    what: "a DER certificate",
    code: "CONFIG_NOT_PEM",
    path: `${OUT}.cert`,
    line: 12,
    yaml: (f) => base(f).replace(f.certs.clientCertPath, f.derCert),
    says: ["binary"],
  },
  {
    what: "a certificate as key",
    code: "CONFIG_NOT_PEM",
    path: `${OUT}.key`,
    line: 13,
    yaml: (f) => base(f).replace(f.certs.clientKeyPath, f.certs.serverCertPath),
    says: ["it holds a PEM certificate"],
  },
  {
    what: "an expired certificate",
    code: "CONFIG_CERT_EXPIRED",
    path: `${OUT}.cert`,
    line: 12,
    yaml: (f) =>
      base(f).replace(f.certs.clientCertPath, f.expiredCert).replace(
        f.certs.clientKeyPath,
        f.expiredKey,
      ),
    says: ["expired on"],
  },
  {
    what: "a certificate not valid yet",
    code: "CONFIG_CERT_NOT_YET_VALID",
    path: `${OUT}.cert`,
    line: 12,
    yaml: (f) =>
      base(f).replace(f.certs.clientCertPath, f.futureCert).replace(
        f.certs.clientKeyPath,
        f.futureKey,
      ),
  },
  {
    what: "a key from another certificate",
    code: "CONFIG_KEY_MISMATCH",
    path: `${OUT}.key`,
    line: 13,
    yaml: (f) => base(f).replace(f.certs.clientKeyPath, f.certs.rogueClientKeyPath),
  },
  {
    what: "a passphrase-protected key",
    code: "CONFIG_KEY_ENCRYPTED",
    path: `${OUT}.key`,
    line: 13,
    yaml: (f) => base(f).replace(f.certs.clientKeyPath, f.encryptedKey),
  },
  {
    what: "devo_tag_map without default",
    code: "CONFIG_TAG_MAP_DEFAULT",
    path: `${EV}.devo_tag_map`,
    line: 25,
    yaml: insert(24, "        devo_tag_map: { VPC_FLOW: my.app.security_lake.vpc_flow }"),
  },
  {
    what: "a hash rule without hash_key",
    code: "CONFIG_OBFUSCATION_RULE",
    path: `${EV}.obfuscation[0].hash_key`,
    line: 27,
    yaml: insert(
      24,
      "        obfuscation:",
      "          - paths: [actor.user.email_addr]",
      "            method: hash",
    ),
  },
  {
    what: "a rule naming no field and no pattern",
    code: "CONFIG_OBFUSCATION_RULE",
    path: `${EV}.obfuscation[0]`,
    line: 26,
    yaml: insert(24, "        obfuscation:", "          - method: mask"),
  },
  {
    what: "keep_last on a mask rule",
    code: "CONFIG_OBFUSCATION_RULE",
    path: `${EV}.obfuscation[0].keep_last`,
    line: 28,
    yaml: insert(
      24,
      "        obfuscation:",
      "          - paths: [src_endpoint.ip]",
      "            method: mask",
      "            keep_last: 4",
    ),
  },
  {
    what: "an access key id without its secret",
    code: "CONFIG_CREDENTIALS_PAIR",
    path: `${IN}.credentials.aws_secret_access_key`,
    line: 17,
    yaml: edit('      aws_secret_access_key: "${SECLAKE_TEST_SECRET}"\n', ""),
  },
  {
    what: "queue_name and queue_url together",
    code: "CONFIG_CONFLICT",
    path: `${IN}.queue_url`,
    line: 21,
    yaml: insert(20, "    queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/q"),
  },
  {
    what: "queue_name and queue_arn together",
    code: "CONFIG_CONFLICT",
    path: `${IN}.queue_arn`,
    line: 21,
    yaml: insert(20, "    queue_arn: arn:aws:sqs:us-east-1:123456789012:q"),
    says: ["cannot be given together with inputs.security_lake.queue_name"],
  },
  {
    what: "queue_url and queue_arn together",
    code: "CONFIG_CONFLICT",
    path: `${IN}.queue_arn`,
    line: 21,
    yaml: (f) =>
      edit(
        "    queue_name: AmazonSecurityLake-0000-Main-Queue",
        "    queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/q\n" +
          "    queue_arn: arn:aws:sqs:us-east-1:123456789012:q",
      )(f),
    says: ["cannot be given together with inputs.security_lake.queue_url"],
  },
  {
    what: "queue_account_id with queue_arn",
    code: "CONFIG_CONFLICT",
    path: `${IN}.queue_account_id`,
    line: 21,
    yaml: edit(
      "    queue_name: AmazonSecurityLake-0000-Main-Queue",
      "    queue_arn: arn:aws:sqs:us-east-1:123456789012:q\n" +
        '    queue_account_id: "123456789012"',
    ),
    says: ["queue_arn, which already names the account"],
  },
  {
    what: "a queue_arn in another region than region",
    code: "CONFIG_CONFLICT",
    path: `${IN}.queue_arn`,
    line: 20,
    yaml: edit(
      "    queue_name: AmazonSecurityLake-0000-Main-Queue",
      "    queue_arn: arn:aws:sqs:eu-west-1:123456789012:q",
    ),
    says: ["names a queue in eu-west-1, but inputs.security_lake.region is us-east-1"],
  },
  {
    what: "a secret and its _file together",
    code: "CONFIG_CONFLICT",
    path: `${IN}.credentials.aws_secret_access_key_file`,
    line: 19,
    yaml: (f) => insert(18, `      aws_secret_access_key_file: ${f.secretFile}`)(f),
  },
  {
    what: "a profile and access keys together",
    code: "CONFIG_CONFLICT",
    path: `${IN}.credentials.profile`,
    line: 19,
    yaml: insert(18, "      profile: security-lake"),
  },
  {
    what: "external_id without role_arn",
    code: "CONFIG_REQUIRES",
    path: `${IN}.credentials.external_id`,
    line: 19,
    yaml: insert(18, '      external_id: "${SECLAKE_TEST_SECRET}"'),
  },
];

/** The configuration error codes (`CONFIG_*`); the other SetupErrors are command-line errors. */
const CONFIG_CODES = (Object.keys(CATALOGUE) as ErrorCode[]).filter((c) =>
  CATALOGUE[c].family === "SetupError" && c.startsWith("CONFIG_")
);

function checkError(c: Case, e: CollectorError): void {
  const where = `${c.what}: ${e.message}`;
  assert.equal(e.code, c.code, where);
  assert.ok(e.message.startsWith(`SetupError ${CATALOGUE[c.code].id}: `), where);
  assert.equal(e.context.path ?? "", c.path, where);
  if (c.line > 0) {
    assert.equal(e.context.line, c.line, where);
    assert.match(e.message, new RegExp(`\\(line ${c.line}(, column \\d+)?\\)$`), where);
  }
  if (c.path !== "") assert.ok(e.message.includes(c.path), where);
  for (const s of c.says ?? []) assert.ok(e.message.includes(s), `${where} lacks ${s}`);
  assert.ok(!e.message.includes(SECRET), `${where} shows the secret`);
  assert.ok(!/[.]$/.test(e.message), `${where} ends with a period`);
}

Deno.test("broken configurations: one error each, with its id, YAML path and line", async (t) => {
  const f = await makeFixture();
  try {
    assert.deepEqual(
      validateConfig(base(f), { env }).errors,
      [],
      "the base configuration is valid",
    );
    const covered = new Set<ErrorCode>(["CONFIG_UNREADABLE"]);
    for (const c of CASES) {
      await t.step(`${c.code}: ${c.what}`, () => {
        const { errors } = validateConfig(c.yaml(f), { env, baseDir: f.dir });
        assert.equal(
          errors.length,
          1,
          `${c.what}: expected one error, got ${errors.map((e) => e.message).join(" | ")}`,
        );
        checkError(c, errors[0]!);
        covered.add(c.code);
      });
    }
    await t.step("CONFIG_UNREADABLE: a configuration file that does not exist", async () => {
      await assert.rejects(loadConfig(join(f.dir, "missing.yaml")), (e) => {
        assert.ok(isCollectorError(e, "CONFIG_UNREADABLE"), String(e));
        assert.match(e.message, /^SetupError 1: Configuration file .*missing\.yaml does not exist/);
        return true;
      });
    });
    await t.step(
      "CONFIG_REGEX_ENGINE: string_patterns in a process without the linear-time engine",
      async () => {
        const path = join(f.dir, "patterns.yaml");
        await Deno.writeTextFile(
          path,
          insert(
            24,
            "        obfuscation:",
            "          - { string_patterns: ['x'], method: mask }",
          )(f),
        );
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-P=seclake", "--quiet", "main.ts", "check", "--config", path],
          cwd: join(import.meta.dirname!, ".."),
          env: { NO_COLOR: "1", SECLAKE_TEST_SECRET: SECRET },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 78, text);
        assert.match(
          text,
          /SetupError 44: .*string_patterns\[0\] needs linear-time regular expressions/,
        );
        covered.add("CONFIG_REGEX_ENGINE");
      },
    );
    assert.ok(CASES.length + 1 >= 40, `${CASES.length + 1} broken configurations`);
    assert.deepEqual(
      CONFIG_CODES.filter((c) => !covered.has(c)),
      [],
      "every configuration error has a case",
    );
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test("every mistake of a file is reported at once, in line order", async () => {
  const f = await makeFixture();
  try {
    const yaml = base(f)
      .replace("max_messages: 10", "max_messages: 0")
      .replace("region: us-east-1", "region: Mars")
      .replace("  name: seclake-test", "  nmae: seclake-test");
    const { errors } = validateConfig(yaml, { env, baseDir: f.dir });
    assert.deepEqual(
      errors.map((e) => [e.code, e.context.line]),
      [["CONFIG_UNKNOWN_KEY", 3], ["CONFIG_REGION", 19], ["CONFIG_RANGE", 24]],
    );
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});

Deno.test(
  {
    name: "run and check stop at a broken configuration with exit 78, without network access",
    permissions: { read: true, write: true, env: true, run: true, sys: true, net: false },
  },
  async () => {
    const f = await makeFixture();
    const printed: string[] = [];
    const { error, log } = console;
    console.error = (...a: unknown[]) => void printed.push(a.join(" "));
    console.log = (...a: unknown[]) => void printed.push(a.join(" "));
    for (const [k, v] of Object.entries(ENV)) Deno.env.set(k, v);
    try {
      for (const [n, c] of CASES.entries()) {
        const file = join(f.dir, `case-${n}.yaml`);
        await Deno.writeTextFile(file, c.yaml(f));
        for (const command of ["run", "check"]) {
          printed.length = 0;
          const code = await main([command, "--config", file]);
          const out = printed.join("\n");
          assert.equal(code, 78, `${command} ${c.what}: exit ${code}\n${out}`);
          assert.ok(
            out.includes(`SetupError ${CATALOGUE[c.code].id}: `),
            `${command} ${c.what}: ${out}`,
          );
          assert.ok(!out.includes(SECRET), `${command} ${c.what} shows the secret`);
        }
      }
    } finally {
      console.error = error;
      console.log = log;
      for (const k of Object.keys(ENV)) Deno.env.delete(k);
      await Deno.remove(f.dir, { recursive: true });
    }
  },
);

Deno.test("the collector binary exits 78 with the message on stderr", async () => {
  const f = await makeFixture();
  try {
    const file = join(f.dir, "broken.yaml");
    await Deno.writeTextFile(file, base(f).replace("max_messages: 10", "max_messages: 25"));
    const run = await runCollectorProcess(["run", "--config", file], { env: ENV });
    assert.equal(run.code, 78, run.stderr);
    assert.match(
      run.stderr,
      /SetupError 11: inputs\.security_lake\.services\.events\.max_messages must be between 1 and 10: got 25 \(line 24\)/,
    );
  } finally {
    await Deno.remove(f.dir, { recursive: true });
  }
});
