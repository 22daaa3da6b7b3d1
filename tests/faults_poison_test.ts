/**
 * Fault injection with bad data: objects that are missing (404), forbidden (403, from the
 * proxy), truncated, not Parquet, or empty (0 rows), and message bodies that are not
 * notifications. Poison messages are logged with their id, left for `max_receive_count`
 * receives, then quarantined (body and reason in `quarantine.jsonl`) and deleted, or left to the
 * queue's dead-letter queue when it has a redrive policy.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
} from "@aws-sdk/client-sqs";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";
import { eventBridgeBody } from "./helpers/lake.ts";
import { sharedDictionaryEntry } from "./helpers/hostile.ts";
import { ACCESS_DENIED } from "./helpers/fault_proxy.ts";
import { spawnCollector, waitUntil } from "./helpers/process.ts";
import {
  AWS_ENV,
  DAY,
  describe,
  fixtureFile,
  runFinished,
  startWorld,
  tally,
} from "./helpers/fault_env.ts";

interface QuarantineLine {
  message_id: string;
  receive_count: number;
  reason: string;
  error_id?: number;
  body: string;
}

Deno.test("poison objects and bodies: left twice, then quarantined with body and reason and deleted", async () => {
  await using w = await startWorld();
  const key = (name: string) => `aws/VPC_FLOW/2.0/${DAY}/${name}.gz.parquet`;
  const good = await w.putFixture(key("good"), { classUid: 4001, rows: 800, seed: 401 });
  const valid = await Deno.readFile(await fixtureFile({ classUid: 4001, rows: 800, seed: 401 }));
  await w.lake.put(key("forbidden"), valid);
  w.proxy.add({ service: "s3", key: key("forbidden"), fault: ACCESS_DENIED });
  await w.lake.put(key("truncated"), valid.subarray(0, Math.floor(valid.length / 2)));
  const junk = new Uint8Array(20_000);
  crypto.getRandomValues(junk);
  await w.lake.put(key("garbage"), junk);
  const empty = await writeOcsfParquet(join(w.dir, "empty.parquet"), {
    classUid: 4001,
    rows: 0,
    seed: 1,
  });
  await w.lake.put(key("zero-rows"), await Deno.readFile(empty.path));

  const printable = new Uint8Array(256 * 1024).map((_, i) => 0x21 + ((i * 7919) % 94));
  const bodies: Record<string, string> = {
    missing: eventBridgeBody(w.lake.bucket, key("missing")),
    forbidden: eventBridgeBody(w.lake.bucket, key("forbidden")),
    truncated: eventBridgeBody(w.lake.bucket, key("truncated")),
    garbage: eventBridgeBody(w.lake.bucket, key("garbage")),
    notJson: "this is not a notification {",
    otherShape: JSON.stringify({ hello: "world", Records: "not a list" }),
    empty: "",
    junk: new TextDecoder().decode(printable),
  };
  const expected: Record<string, RegExp> = {
    missing: /^ApiError 402: S3 (Head|Get)Object failed: NotFound/,
    forbidden: /^ApiError 403: S3 (Head|Get)Object failed/,
    truncated: /^DataError 601: /,
    garbage: /^DataError 601: /,
    notJson: /^DataError 600: /,
    otherShape: /^DataError 600: /,
    empty: /^DataError 600: /,
    junk: /^DataError 600: /,
  };
  for (const body of Object.values(bodies)) await w.lake.send(body);
  await w.lake.send(eventBridgeBody(w.lake.bucket, key("zero-rows")));
  await w.lake.send(eventBridgeBody(w.lake.bucket, good.key));

  const config = await w.writeConfig({ maxReceiveCount: 2 });
  await using run = spawnCollector(["run", "--config", config], { env: AWS_ENV });
  const quarantinePath = join(w.stateDir, "quarantine.jsonl");
  const quarantined = async (): Promise<QuarantineLine[]> => {
    try {
      const text = await Deno.readTextFile(quarantinePath);
      return text.split("\n").filter((l) => l).map((l) => JSON.parse(l));
    } catch {
      return [];
    }
  };
  await waitUntil(
    async () => (await quarantined()).length >= Object.keys(bodies).length || run.done,
    "every poison message in quarantine.jsonl",
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  await waitUntil(
    async () => {
      const d = await w.lake.depth();
      return d.visible + d.inFlight === 0;
    },
    "an empty queue",
    { timeoutMs: 20_000, intervalMs: 250 },
  );
  run.kill("SIGTERM");
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr);

  const records = await quarantined();
  assert.equal(records.length, Object.keys(bodies).length);
  for (const [name, body] of Object.entries(bodies)) {
    const r = records.find((x) => x.body === body);
    assert.ok(r, `${name} is not in quarantine.jsonl`);
    assert.equal(r.receive_count, 2, name);
    assert.match(r.reason, expected[name]!, `${name}: ${r.reason}`);
    assert.ok(typeof r.error_id === "number", name);
    // Logged with its id and the reason each time it failed.
    const left = run.stderr.match(
      new RegExp(
        `Message ${r.message_id} left on the queue to be retried receive_count=1 reason=(.*)`,
      ),
    );
    assert.ok(left, `no log line for ${name}`);
    assert.match(left[1]!, expected[name]!);
  }
  assert.match(run.stderr, /Message \S+ quarantined after 2 receives: /);
  const mode = (await Deno.stat(quarantinePath)).mode! & 0o777;
  assert.equal(mode, 0o600);
  // The good object and the 0-row object were delivered (0 events) and deleted at once.
  const t = tally(w.lines(), good.ids);
  assert.equal(t.missing.length, 0, describe(t));
  assert.equal(t.duplicates, 0, describe(t));
  assert.equal(t.lines, good.ids.length, describe(t));
  const finished = runFinished(run.stderr)!;
  assert.equal(finished.received, 2 * Object.keys(bodies).length + 2);
  assert.equal(finished.deleted, 2);
});

Deno.test("with a redrive policy, a poison message is left to the dead-letter queue, not quarantined", async () => {
  await using w = await startWorld();
  const dlq = await w.lake.sqs.send(
    new CreateQueueCommand({ QueueName: `${w.lake.queueName}-DLQ` }),
  );
  const arn = await w.lake.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl!, AttributeNames: ["QueueArn"] }),
  );
  await w.lake.sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: w.lake.queueUrl,
      Attributes: {
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: arn.Attributes!.QueueArn,
          maxReceiveCount: 2,
        }),
      },
    }),
  );
  await w.lake.send("not a notification");
  const config = await w.writeConfig({ maxReceiveCount: 2 });
  await using run = spawnCollector(["run", "--config", config], { env: AWS_ENV });
  const inDlq = async () => {
    const a = await w.lake.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: dlq.QueueUrl!,
        AttributeNames: ["ApproximateNumberOfMessages"],
      }),
    );
    return Number(a.Attributes?.ApproximateNumberOfMessages ?? 0);
  };
  await waitUntil(async () => (await inDlq()) === 1 || run.done, "the message in the DLQ", {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  run.kill("SIGTERM");
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr);
  assert.match(run.stderr, /left on the queue to be retried receive_count=2 reason=DataError 600/);
  assert.doesNotMatch(run.stderr, /quarantined/);
  await assert.rejects(Deno.stat(join(w.stateDir, "quarantine.jsonl")), Deno.errors.NotFound);
  assert.deepEqual(await w.lake.depth(), { visible: 0, inFlight: 0 });
});

Deno.test("an object over its output budget is quarantined at its first receive, its record counting the events delivered", async () => {
  await using w = await startWorld();
  const key = `aws/VPC_FLOW/2.0/${DAY}/shared-entry.gz.parquet`;
  // 6 KB that would make 4.3 GB of events: 65,536 rows sharing one 64 KiB dictionary entry.
  await w.lake.put(key, sharedDictionaryEntry(65_536, 65_536));
  const body = eventBridgeBody(w.lake.bucket, key);
  await w.lake.send(body);
  const config = await w.writeConfig({ maxReceiveCount: 5 });
  await using run = spawnCollector(["run", "--config", config], { env: AWS_ENV });
  const quarantinePath = join(w.stateDir, "quarantine.jsonl");
  let record: (QuarantineLine & { delivered_events?: number }) | undefined;
  await waitUntil(
    async () => {
      const text = await Deno.readTextFile(quarantinePath).catch(() => "");
      const line = text.split("\n").find((l) => l);
      if (line) record = JSON.parse(line);
      return record !== undefined || run.done;
    },
    "the object's message in quarantine.jsonl",
    { timeoutMs: 90_000, intervalMs: 500 },
  );
  run.kill("SIGTERM");
  const exit = await run.exited;
  assert.equal(exit.code, 0, run.stderr);
  assert.ok(record, run.stderr);
  assert.equal(record.body, body);
  // Certain to repeat: not retried until max_receive_count.
  assert.equal(record.receive_count, 1);
  assert.equal(record.error_id, 611);
  assert.match(record.reason, /^DataError 611: /);
  // The events sent before the budget ran out were delivered, and the record says how many.
  const delivered = record.delivered_events!;
  assert.ok(delivered > 0 && delivered < 65_536, `${delivered} events delivered`);
  assert.equal(w.lines().length, delivered);
});
