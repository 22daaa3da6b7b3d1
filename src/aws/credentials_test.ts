import assert from "node:assert/strict";
import { CollectorError, isCollectorError } from "../errors.ts";
import { setupLogging } from "../telemetry/log.ts";
import { createCredentials, ManagedCredentials, wrapStsError } from "./credentials.ts";
import { AUTH_ERROR_NAMES, wrapAwsError } from "./errors.ts";
import type { AwsCredentials } from "./credentials.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzSECRET";
const TOKEN = "FQoGZXIvYXdzEBYaDTOKENTOKENTOKEN";

function fakeSource(clock: { now: number }, lifetimeMs: number) {
  let n = 0;
  let fail = false;
  const fetch = () => {
    if (fail) return Promise.reject(new Error("Throttling: rate exceeded"));
    n++;
    return Promise.resolve<AwsCredentials>({
      accessKeyId: `ASIA${n}`,
      secretAccessKey: `${SECRET}${n}`,
      sessionToken: `${TOKEN}${n}`,
      expiration: new Date(clock.now + lifetimeMs),
    });
  };
  return {
    fetch,
    get calls() {
      return n;
    },
    failing(f: boolean) {
      fail = f;
    },
  };
}

async function captureLogs(): Promise<string[]> {
  const lines: string[] = [];
  await setupLogging({ level: "debug", write: (l) => lines.push(l) });
  return lines;
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("temporary credentials are renewed in the background before they expire", async () => {
  const lines = await captureLogs();
  const clock = { now: Date.parse("2024-04-10T12:00:00Z") };
  const src = fakeSource(clock, 3600_000);
  const m = new ManagedCredentials(src.fetch, "test source", {
    label: "input x",
    now: () => clock.now,
  });
  const first = await m.get();
  assert.equal(first.accessKeyId, "ASIA1");
  assert.equal((await m.get()).accessKeyId, "ASIA1");
  assert.equal(src.calls, 1);
  // 6 minutes before expiry: nothing yet (margin 5 minutes).
  clock.now += 54 * 60_000;
  assert.equal((await m.get()).accessKeyId, "ASIA1");
  assert.equal(src.calls, 1);
  // 4 minutes before expiry: the old ones are handed out while the new ones are fetched.
  clock.now += 2 * 60_000;
  assert.equal((await m.get()).accessKeyId, "ASIA1");
  await tick();
  assert.equal((await m.get()).accessKeyId, "ASIA2");
  assert.equal(m.renewals, 1);
  assert.equal(m.expiration?.toISOString(), "2024-04-10T13:56:00.000Z");
  const renewed = lines.find((l) => l.includes("renewed"));
  assert.match(
    renewed!,
    /AWS credentials for input x renewed; they expire at 2024-04-10T13:56:00\.000Z/,
  );
  for (const l of lines) {
    assert.ok(!l.includes(SECRET) && !l.includes(TOKEN) && !l.includes("ASIA"), l);
  }
});

Deno.test("a failed renewal keeps the valid credentials, is logged, and is retried later", async () => {
  const lines = await captureLogs();
  const clock = { now: 0 };
  const src = fakeSource(clock, 900_000);
  const m = new ManagedCredentials(src.fetch, "test source", {
    label: "input x",
    now: () => clock.now,
    retryAfterMs: 30_000,
  });
  await m.get();
  src.failing(true);
  clock.now = 700_000; // 200 s left, under the 5-minute margin
  assert.equal((await m.get()).accessKeyId, "ASIA1");
  await tick();
  assert.match(lines.join(""), /could not be renewed, the current ones expire at/);
  clock.now = 710_000; // within retryAfter: no new attempt
  assert.equal((await m.get()).accessKeyId, "ASIA1");
  src.failing(false);
  clock.now = 740_000;
  assert.equal((await m.get()).accessKeyId, "ASIA1");
  await tick();
  assert.equal((await m.get()).accessKeyId, "ASIA2");
  // Once expired, a request waits for the renewal, and fails with it.
  src.failing(true);
  clock.now += 2_000_000;
  await assert.rejects(
    m.get(),
    (e: unknown) => isCollectorError(e) && e.code === "CREDENTIALS_UNAVAILABLE",
  );
});

Deno.test("short-lived credentials are used for a while before their renewal", async () => {
  const clock = { now: 0 };
  const src = fakeSource(clock, 60_000); // one minute, shorter than the 5-minute margin
  const m = new ManagedCredentials(src.fetch, "s", { now: () => clock.now });
  await m.get();
  clock.now = 5_000;
  assert.equal((await m.get()).accessKeyId, "ASIA1");
  assert.equal(src.calls, 1);
  clock.now = 55_000;
  await m.get();
  await tick();
  assert.equal(src.calls, 2);
});

Deno.test("static keys never expire and are handed to the SDK as a memoized provider", async () => {
  const c = createCredentials({
    aws_access_key_id: "AKIAIOSFODNN7EXAMPLE",
    aws_secret_access_key: SECRET,
    role_session_name: "seclake",
    role_duration_seconds: 3600,
  });
  assert.equal(c.provider.memoized, true);
  const creds = await c.provider();
  assert.equal(creds.secretAccessKey, SECRET);
  assert.equal(creds.expiration, undefined);
  assert.equal(c.description, "access keys");
  assert.ok(!c.description.includes("AKIA"));
});

Deno.test("a profile that does not exist gives InitVariablesError 100 naming the profile only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/credentials`,
      `[other]\naws_access_key_id = AKIAOTHEROTHEROTHER\naws_secret_access_key = ${SECRET}\n`,
    );
    await Deno.writeTextFile(`${dir}/config`, "");
    const c = createCredentials(
      { profile: "lake", role_session_name: "s", role_duration_seconds: 3600 },
      { sharedFiles: { credentials: `${dir}/credentials`, config: `${dir}/config` } },
    );
    await assert.rejects(c.get(), (e: unknown) => {
      assert.ok(e instanceof CollectorError);
      assert.equal(e.id, 100);
      assert.match(e.message, /No AWS credentials from profile lake/);
      assert.ok(!e.message.includes(SECRET));
      return true;
    });
    const other = createCredentials(
      { profile: "other", role_session_name: "s", role_duration_seconds: 3600 },
      { sharedFiles: { credentials: `${dir}/credentials`, config: `${dir}/config` } },
    );
    assert.equal((await other.get()).secretAccessKey, SECRET);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("STS errors map to catalogue ids", () => {
  const sdk = (name: string, status?: number, message = "m") =>
    Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
  const cases: [unknown, "AssumeRole" | "GetCallerIdentity", string, boolean][] = [
    [sdk("AccessDenied", 403), "AssumeRole", "ASSUME_ROLE_FAILED", false],
    [sdk("ValidationError", 400), "AssumeRole", "ASSUME_ROLE_FAILED", false],
    [sdk("InvalidClientTokenId", 403), "AssumeRole", "AWS_AUTH", false],
    [sdk("ExpiredToken", 400), "GetCallerIdentity", "AWS_AUTH", false],
    [sdk("Throttling", 400), "AssumeRole", "STS_CALL", true],
    [sdk("InternalFailure", 500), "GetCallerIdentity", "STS_CALL", true],
    [new TypeError("fetch failed"), "AssumeRole", "STS_CALL", true],
  ];
  for (const [e, op, code, retryable] of cases) {
    const w = wrapStsError(e, op, { role_arn: "arn:aws:iam::111122223333:role/r" });
    assert.equal(w.code, code, String(e));
    assert.equal(w.retryable, retryable, String(e));
  }
  assert.match(
    wrapStsError(sdk("AccessDenied", 403, "not authorized"), "AssumeRole", {
      role_arn: "arn:aws:iam::111122223333:role/r",
    }).message,
    /^ApiError 406: STS AssumeRole of arn:aws:iam::111122223333:role\/r failed: AccessDenied \(HTTP 403\): not authorized$/,
  );
});

Deno.test("one list of credential refusals: AWS_AUTH, not retried, from SQS, S3 and STS alike", () => {
  const sdk = (name: string) =>
    Object.assign(new Error("m"), { name, $metadata: { httpStatusCode: 400 } });
  for (const name of AUTH_ERROR_NAMES) {
    for (
      const w of [
        wrapAwsError(sdk(name), "SQS", "ReceiveMessage"),
        wrapAwsError(sdk(name), "S3", "GetObject"),
        wrapStsError(sdk(name), "AssumeRole"),
        wrapStsError(sdk(name), "GetCallerIdentity"),
      ]
    ) {
      assert.equal(w.code, "AWS_AUTH", `${name}: ${w.message}`);
      assert.equal(w.retryable, false, name);
    }
  }
  assert.ok(AUTH_ERROR_NAMES.has("InvalidToken") && AUTH_ERROR_NAMES.has("AuthFailure"));
});
