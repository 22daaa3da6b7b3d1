/**
 * Identities against moto's STS, SQS and S3 with the real SDK clients: AssumeRole with an
 * external id, GetCallerIdentity, separate identities for SQS and S3, the default chain, a
 * profile, refused credentials, and renewal of short-lived role sessions during a long run.
 */
import assert from "node:assert/strict";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { createClients } from "../src/aws/clients.ts";
import { callerIdentity, createCredentials } from "../src/aws/credentials.ts";
import { validateConfig } from "../src/config/load.ts";
import type { InputConfig } from "../src/config/types.ts";
import { isCollectorError } from "../src/errors.ts";
import { setupLogging } from "../src/telemetry/log.ts";
import { createTestLake, TEST_CREDENTIALS } from "./helpers/lake.ts";
import { MOTO_CA_FILE, motoFetch, motoHandler, startMoto } from "./helpers/moto.ts";
import { enableMotoAuth } from "./helpers/moto_auth.ts";

const ROLE = "arn:aws:iam::123456789012:role/AmazonSecurityLake-0000";
const CROSS_ROLE = "arn:aws:iam::111122223333:role/AmazonSecurityLake-1111";

interface MotoAssumedRole {
  access_key_id: string;
  external_id: string | null;
  session_name: string;
  role_arn: string;
}

async function assumedRoles(endpoint: string): Promise<MotoAssumedRole[]> {
  const data = await (await motoFetch(endpoint, "/moto-api/data.json")).json();
  return (data.sts?.AssumedRole ?? []) as MotoAssumedRole[];
}

/** The input of a configuration whose `credentials` part is `credentials` (YAML flow text). */
function input(endpoint: string, credentials: string): InputConfig {
  const r = validateConfig(
    `outputs: { c: { type: console } }
inputs:
  lake:
    region: us-east-1
    queue_name: q
    endpoint_url: ${endpoint}
    ca_bundle: ${MOTO_CA_FILE}
    ${credentials}
`,
    { checkFiles: false, env: () => undefined },
  );
  assert.deepEqual(r.errors.map((e) => e.message), []);
  return r.config!.inputs[0]!;
}

const KEYS =
  `aws_access_key_id: ${TEST_CREDENTIALS.accessKeyId}, aws_secret_access_key: ${TEST_CREDENTIALS.secretAccessKey}`;

Deno.test("AssumeRole with the external id; GetCallerIdentity names the assumed role", async () => {
  await using moto = await startMoto();
  const i = input(
    moto.endpoint,
    `credentials: { ${KEYS}, role_arn: "${CROSS_ROLE}", external_id: "lake-ext-id-42", role_session_name: seclake-test, role_duration_seconds: 900 }`,
  );
  const creds = createCredentials(i.credentials, {
    region: "us-east-1",
    endpoint: moto.endpoint,
    requestHandler: motoHandler(moto.endpoint),
  });
  try {
    const before = Date.now();
    const c = await creds.get();
    assert.match(c.accessKeyId, /^ASIA/);
    assert.ok(c.sessionToken);
    const lifetime = c.expiration!.getTime() - before;
    assert.ok(lifetime > 880_000 && lifetime <= 905_000, `lifetime ${lifetime} ms`);
    const who = await callerIdentity(creds, {
      region: "us-east-1",
      endpoint: moto.endpoint,
      requestHandler: motoHandler(moto.endpoint),
    });
    assert.deepEqual(
      { account: who.account, arn: who.arn },
      {
        account: "111122223333",
        arn: "arn:aws:sts::111122223333:assumed-role/AmazonSecurityLake-1111/seclake-test",
      },
    );
    const roles = await assumedRoles(moto.endpoint);
    assert.equal(roles.length, 1);
    assert.equal(roles[0]!.external_id, "lake-ext-id-42");
    assert.equal(roles[0]!.role_arn, CROSS_ROLE);
    assert.equal(roles[0]!.session_name, "seclake-test");
    assert.equal(roles[0]!.access_key_id, c.accessKeyId);
    assert.match(
      creds.description,
      /^role .*AmazonSecurityLake-1111 \(with external id\) assumed with access keys$/,
    );
  } finally {
    creds.destroy();
  }
});

Deno.test("SQS and S3 work through a role, and through separate identities", async () => {
  await using moto = await startMoto();
  const lake = await createTestLake(moto.endpoint);
  try {
    // One role for both.
    const both = createClients(
      input(moto.endpoint, `credentials: { ${KEYS}, role_arn: "${ROLE}" }`),
    );
    try {
      assert.equal(both.credentials.sqs, both.credentials.s3);
      await both.sqs.send(new SendMessageCommand({ QueueUrl: lake.queueUrl, MessageBody: "hi" }));
      const got = await both.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: lake.queueUrl, WaitTimeSeconds: 0 }),
      );
      assert.equal(got.Messages?.[0]?.Body, "hi");
      await both.s3.send(new PutObjectCommand({ Bucket: lake.bucket, Key: "k", Body: "v" }));
      const obj = await both.s3.send(new GetObjectCommand({ Bucket: lake.bucket, Key: "k" }));
      assert.equal(await obj.Body!.transformToString(), "v");
      assert.equal((await assumedRoles(moto.endpoint)).length, 1);
    } finally {
      both.destroy();
    }
    // SQS with the keys, S3 with the role.
    const apart = createClients(input(
      moto.endpoint,
      `sqs_credentials: { ${KEYS} }
    s3_credentials: { ${KEYS}, role_arn: "${ROLE}", role_session_name: s3-side }
    credentials: { ${KEYS} }`,
    ));
    try {
      assert.notEqual(apart.credentials.sqs, apart.credentials.s3);
      const opts = {
        region: "us-east-1",
        endpoint: moto.endpoint,
        requestHandler: motoHandler(moto.endpoint),
      };
      const sqsWho = await callerIdentity(apart.credentials.sqs, opts);
      const s3Who = await callerIdentity(apart.credentials.s3, opts);
      assert.doesNotMatch(sqsWho.arn, /assumed-role/);
      assert.equal(
        s3Who.arn,
        "arn:aws:sts::123456789012:assumed-role/AmazonSecurityLake-0000/s3-side",
      );
      const obj = await apart.s3.send(new GetObjectCommand({ Bucket: lake.bucket, Key: "k" }));
      assert.equal(await obj.Body!.transformToString(), "v");
      await apart.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: lake.queueUrl, WaitTimeSeconds: 0 }),
      );
    } finally {
      apart.destroy();
    }
  } finally {
    lake.destroy();
  }
});

Deno.test("a short role session is renewed again and again during a long run", async () => {
  const lines: string[] = [];
  await setupLogging({ level: "debug", write: (l) => lines.push(l) });
  await using moto = await startMoto();
  const lake = await createTestLake(moto.endpoint);
  // 15-minute sessions renewed 898.5 s before they expire: every 1.5 s of this run.
  const clients = createClients(
    input(
      moto.endpoint,
      `credentials: { ${KEYS}, role_arn: "${ROLE}", role_duration_seconds: 900 }`,
    ),
    { credentials: { refreshMarginMs: 898_500 } },
  );
  try {
    const keys = new Set<string>();
    const started = Date.now();
    // A long poll stays in flight across renewals and completes normally.
    const longPoll = clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: lake.queueUrl, WaitTimeSeconds: 5 }),
    );
    let calls = 0;
    while (Date.now() - started < 6_000) {
      await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: lake.queueUrl, WaitTimeSeconds: 0 }),
      );
      await clients.s3.send(new PutObjectCommand({ Bucket: lake.bucket, Key: "k", Body: "v" }));
      keys.add((await clients.credentials.sqs.get()).accessKeyId);
      calls++;
      await new Promise((r) => setTimeout(r, 100));
    }
    await longPoll;
    const renewals = clients.credentials.sqs.renewals;
    assert.ok(renewals >= 2 && renewals <= 5, `${renewals} renewals in ${calls} calls`);
    assert.ok(keys.size >= renewals, `${keys.size} keys seen`);
    assert.equal((await assumedRoles(moto.endpoint)).length, renewals + 1);
    const renewed = lines.filter((l) => l.includes("renewed"));
    assert.equal(renewed.length, renewals);
    for (const l of renewed) {
      assert.match(
        l,
        /INFO +\[aws\] AWS credentials for input lake renewed; they expire at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/,
      );
    }
  } finally {
    clients.destroy();
    lake.destroy();
  }
});

Deno.test("without keys: the default chain (environment), or a profile of the shared files", async () => {
  await using moto = await startMoto();
  const names = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"];
  const saved = names.map((n) => [n, Deno.env.get(n)] as const);
  const dir = await Deno.makeTempDir();
  try {
    Deno.env.delete("AWS_SESSION_TOKEN");
    Deno.env.delete("AWS_PROFILE");
    Deno.env.set("AWS_ACCESS_KEY_ID", "AKIAENVENVENVENV0001");
    Deno.env.set("AWS_SECRET_ACCESS_KEY", "env-secret-env-secret");
    const chain = createCredentials(
      { role_session_name: "s", role_duration_seconds: 3600 },
      { region: "us-east-1" },
    );
    assert.equal((await chain.get()).accessKeyId, "AKIAENVENVENVENV0001");
    assert.equal(chain.description, "the default AWS credential chain");
    // The chain as the source of a role.
    const viaChain = createCredentials(
      { role_arn: ROLE, role_session_name: "from-chain", role_duration_seconds: 900 },
      { region: "us-east-1", endpoint: moto.endpoint, requestHandler: motoHandler(moto.endpoint) },
    );
    const who = await callerIdentity(viaChain, {
      region: "us-east-1",
      endpoint: moto.endpoint,
      requestHandler: motoHandler(moto.endpoint),
    });
    assert.match(who.arn, /assumed-role\/AmazonSecurityLake-0000\/from-chain$/);
    viaChain.destroy();

    Deno.env.delete("AWS_ACCESS_KEY_ID");
    Deno.env.delete("AWS_SECRET_ACCESS_KEY");
    await Deno.writeTextFile(
      `${dir}/credentials`,
      "[lake]\naws_access_key_id = AKIAPROFILEPROFILE01\naws_secret_access_key = profile-secret\n",
    );
    await Deno.writeTextFile(`${dir}/config`, "[profile lake]\nregion = us-east-1\n");
    const profile = createCredentials(
      { profile: "lake", role_session_name: "s", role_duration_seconds: 3600 },
      {
        region: "us-east-1",
        sharedFiles: { credentials: `${dir}/credentials`, config: `${dir}/config` },
      },
    );
    assert.equal((await profile.get()).accessKeyId, "AKIAPROFILEPROFILE01");
    const pWho = await callerIdentity(profile, {
      region: "us-east-1",
      endpoint: moto.endpoint,
      requestHandler: motoHandler(moto.endpoint),
    });
    assert.equal(pWho.account, "123456789012");
  } finally {
    for (const [n, v] of saved) v === undefined ? Deno.env.delete(n) : Deno.env.set(n, v);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("credentials AWS refuses give ApiError 404, for GetCallerIdentity and AssumeRole", async () => {
  await using moto = await startMoto();
  const disable = await enableMotoAuth(moto.endpoint);
  try {
    const keys = {
      aws_access_key_id: "AKIAUNKNOWNUNKNOWN01",
      aws_secret_access_key: "not-a-real-secret-value",
      role_session_name: "s",
      role_duration_seconds: 900,
    };
    const opts = {
      region: "us-east-1",
      endpoint: moto.endpoint,
      requestHandler: motoHandler(moto.endpoint),
    };
    await assert.rejects(callerIdentity(createCredentials(keys, opts), opts), (e: unknown) => {
      assert.ok(isCollectorError(e, "AWS_AUTH"), String(e));
      assert.match(e.message, /^ApiError 404: STS GetCallerIdentity failed: InvalidClientTokenId/);
      assert.ok(!e.message.includes("not-a-real-secret-value"));
      return true;
    });
    const role = createCredentials({ ...keys, role_arn: ROLE, external_id: "x-1" }, opts);
    await assert.rejects(role.get(), (e: unknown) => {
      assert.ok(isCollectorError(e, "AWS_AUTH"), String(e));
      assert.match(
        e.message,
        /STS AssumeRole of arn:aws:iam::123456789012:role\/AmazonSecurityLake-0000 failed/,
      );
      return true;
    });
    role.destroy();
  } finally {
    await disable();
  }
});
