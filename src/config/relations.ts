/**
 * Pass 3 of loading a configuration: relations between settings. The relations the schema declares
 * beside the fields (what a type requires, settings that exclude or need each other: see
 * `declared.ts`), and the ones that compare values: credentials given in pairs, tag maps with a
 * default, sources named in both lists, buckets allowed, a queue ARN in the input's region, and the
 * strength of a hash key.
 * @module
 */
import type { Path } from "./_util.ts";
import type { Report } from "./report.ts";
import { formatPath } from "./report.ts";
import { checkDeclared } from "./declared.ts";
import { SPECS } from "./schema.ts";
import type { Raw } from "./walk.ts";

/** The smallest `hash_key`, in bytes. */
export const MIN_HASH_KEY_BYTES = 16;

/** Checks the relations between the settings of `raw` (see the module). */
export function checkRelations(r: Report, raw: Raw): void {
  const outputs = (raw.outputs ?? {}) as Record<string, Raw>;
  if (Object.keys(outputs).length === 0) {
    r.fail(
      "CONFIG_NO_OUTPUT",
      ["outputs"],
      r.lineNear(["outputs"]),
      `${
        r.written(["outputs"]) ? "is empty" : "is missing"
      }: configure at least one output (devo_platform, relay or console)`,
    );
  }
  for (const [name, o] of Object.entries(outputs)) outputRelations(r, name, o);

  const inputs = (raw.inputs ?? {}) as Record<string, Raw>;
  const enabled = Object.entries(inputs).filter(([, i]) => i.enabled !== false);
  if (enabled.length === 0) {
    const what = !r.written(["inputs"])
      ? "is missing"
      : Object.keys(inputs).length === 0
      ? "is empty"
      : "has no enabled input (every input has enabled: false)";
    r.fail(
      "CONFIG_NO_INPUT",
      ["inputs"],
      r.lineNear(["inputs"]),
      `${what}: configure and enable at least one input`,
    );
  }
  for (const [name, i] of enabled) inputRelations(r, name, i);
}

function outputRelations(r: Report, name: string, o: Raw): void {
  checkDeclared(r, ["outputs", name], SPECS.output, o);
}

/** An ARN's region must be the input's region (the SQS client signs for that region). */
function queueRegion(r: Report, path: Path, i: Raw): void {
  const arnRegion = typeof i.queue_arn === "string" ? i.queue_arn.split(":")[3] : undefined;
  if (arnRegion !== undefined && typeof i.region === "string" && arnRegion !== i.region) {
    r.fail(
      "CONFIG_CONFLICT",
      [...path, "queue_arn"],
      r.lineNear([...path, "queue_arn"]),
      `names a queue in ${arnRegion}, but ${
        formatPath([...path, "region"])
      } is ${i.region}: the queue's region and region must be the same`,
    );
  }
}

function inputRelations(r: Report, name: string, i: Raw): void {
  const path = ["inputs", name];
  checkDeclared(r, path, SPECS.inputs, i);
  if (i.type !== "directory") {
    queueRegion(r, path, i);
    credentialRelations(r, [...path, "credentials"], i.credentials as Raw, true);
    for (const k of ["sqs_credentials", "s3_credentials"]) {
      if (i[k] !== undefined) credentialRelations(r, [...path, k], i[k] as Raw, true);
    }
  }
  const events = ((i.services as Raw).events ?? {}) as Raw;
  const ev = [...path, "services", "events"];
  const map = events.devo_tag_map as Record<string, string> | undefined;
  if (map !== undefined && map.default === undefined) {
    r.fail(
      "CONFIG_TAG_MAP_DEFAULT",
      [...ev, "devo_tag_map"],
      r.lineNear([...ev, "devo_tag_map"]),
      `has no default entry: add default: ${events.tag ?? "cloud.aws.amazon.security_lake.events"}`,
    );
  }
  const include = (events.include_sources ?? []) as string[];
  ((events.exclude_sources ?? []) as string[]).forEach((s, n) => {
    if (include.includes(s)) {
      r.fail(
        "CONFIG_CONFLICT",
        [...ev, "exclude_sources", n],
        r.lineNear([...ev, "exclude_sources", n]),
        `names ${s}, which include_sources also names: keep it in one of the two lists`,
      );
    }
  });
  const allowed = i.allowed_buckets as string[] | undefined;
  if (i.bucket !== undefined && allowed !== undefined && !allowed.includes(i.bucket as string)) {
    r.fail(
      "CONFIG_CONFLICT",
      [...path, "bucket"],
      r.lineNear([...path, "bucket"]),
      `names ${i.bucket}, which allowed_buckets does not list: add it there or correct it`,
    );
  }
  ((events.obfuscation ?? []) as Raw[]).forEach((rule, n) =>
    ruleRelations(r, [...ev, "obfuscation", n], rule)
  );
  ((events.drop_events ?? []) as Raw[]).forEach((c, n) =>
    checkDeclared(r, [...ev, "drop_events", n], SPECS.condition, c)
  );
  ((events.tag_routes ?? []) as Raw[]).forEach((c, n) =>
    checkDeclared(r, [...ev, "tag_routes", n], SPECS.tagRoute, c)
  );
}

function credentialRelations(r: Report, path: Path, c: Raw, needSome: boolean): void {
  const has = (k: string) => c[k] !== undefined;
  const line = (k: string) => r.lineNear([...path, k]);
  // A key written as ${VAR}, with VAR set but empty: the variable is what to fix, not the file.
  const emptied = ["aws_access_key_id", "aws_secret_access_key"].filter((k) =>
    !has(k) && r.fromEnv([...path, k]).length > 0
  );
  if (emptied.length > 0) {
    for (const k of emptied) {
      const vars = r.fromEnv([...path, k]);
      r.fail(
        "CONFIG_ENV_EMPTY",
        [...path, k],
        line(k),
        `is empty: it comes from \${${vars.join("}, ${")}}, which ${
          vars.length === 1 ? "is" : "are"
        } set but empty; export ${vars.join(" and ")} with the ${
          k === "aws_access_key_id" ? "access key id" : "secret access key"
        } before starting the collector`,
      );
    }
    return;
  }
  if (has("aws_access_key_id") !== has("aws_secret_access_key")) {
    const [given, absent] = has("aws_access_key_id")
      ? ["aws_access_key_id", "aws_secret_access_key"]
      : ["aws_secret_access_key", "aws_access_key_id"];
    r.fail(
      "CONFIG_CREDENTIALS_PAIR",
      [...path, absent],
      line(given),
      `is missing${
        r.emptyNote([...path, absent])
      } while ${given} is given: set both keys of the IAM access key, or neither`,
    );
  } else if (has("aws_session_token") && !has("aws_access_key_id")) {
    r.fail(
      "CONFIG_CREDENTIALS_PAIR",
      [...path, "aws_session_token"],
      line("aws_session_token"),
      "is given without aws_access_key_id and aws_secret_access_key: set all three or remove it",
    );
  }
  checkDeclared(r, path, SPECS.credentials, c);
  if (
    needSome && !has("aws_access_key_id") && !has("aws_secret_access_key") && !has("profile") &&
    !has("role_arn")
  ) {
    r.fail(
      "CONFIG_MISSING",
      [...path, "aws_access_key_id"],
      r.lineNear([...path, "aws_access_key_id"]),
      'is required: set aws_access_key_id and aws_secret_access_key (or profile, or role_arn), e.g. aws_access_key_id: "${AWS_ACCESS_KEY_ID}"',
    );
  }
}

function ruleRelations(r: Report, path: Path, rule: Raw): void {
  const line = r.lineNear(path);
  if (rule.paths === undefined && rule.string_patterns === undefined) {
    r.fail(
      "CONFIG_OBFUSCATION_RULE",
      path,
      line,
      "names neither paths nor string_patterns: add the fields (paths) or the patterns (string_patterns) it applies to",
    );
  }
  checkDeclared(r, path, SPECS.obfuscationRule, rule);
  const method = rule.method as string;
  if (method === "hash" && typeof rule.hash_key === "string") {
    const bytes = new TextEncoder().encode(rule.hash_key).length;
    if (bytes < MIN_HASH_KEY_BYTES) {
      r.fail(
        "CONFIG_HASH_KEY_SHORT",
        [...path, "hash_key"],
        r.lineNear([...path, "hash_key"]),
        `is ${bytes} byte${
          bytes === 1 ? "" : "s"
        } long, and must be at least ${MIN_HASH_KEY_BYTES}: anyone who can guess it can reverse the pseudonyms by hashing likely values; use a long random key, e.g. the output of openssl rand -hex 32`,
      );
    }
  }
}
