import assert from "node:assert/strict";
import { CollectorError } from "../errors.ts";
import { isPropagationError, waitOutPropagation } from "./startup.ts";

const refused = () =>
  new CollectorError("AWS_AUTH", "STS GetCallerIdentity failed: InvalidClientTokenId");

Deno.test("propagation refusals are tried again with doubling pauses until they pass", async () => {
  let calls = 0;
  const pauses: number[] = [];
  const out = await waitOutPropagation(() => {
    if (++calls < 4) throw refused();
    return Promise.resolve("queue");
  }, { budgetMs: 10_000, firstPauseMs: 5, onWait: (_e, ms) => pauses.push(ms) });
  assert.equal(out, "queue");
  assert.deepEqual(pauses, [5, 10, 20]);
});

Deno.test("the budget bounds the waiting; other errors and a zero budget fail at once", async () => {
  let calls = 0;
  await assert.rejects(
    waitOutPropagation(() => {
      calls++;
      throw refused();
    }, { budgetMs: 40, firstPauseMs: 10 }),
    { code: "AWS_AUTH" },
  );
  assert.equal(calls, 3, "10 + 20 ms fit in 40 ms, the next 40 ms pause does not");
  let once = 0;
  await assert.rejects(
    waitOutPropagation(() => {
      once++;
      throw new CollectorError("QUEUE_NOT_FOUND", "Queue q not found");
    }, { budgetMs: 10_000, firstPauseMs: 1 }),
    { code: "QUEUE_NOT_FOUND" },
  );
  assert.equal(once, 1);
  let zero = 0;
  await assert.rejects(waitOutPropagation(() => {
    zero++;
    throw refused();
  }, { budgetMs: 0 }));
  assert.equal(zero, 1);
  for (const code of ["AWS_AUTH", "ASSUME_ROLE_FAILED", "SQS_FORBIDDEN", "S3_FORBIDDEN"] as const) {
    assert.ok(isPropagationError(new CollectorError(code, "x")));
  }
  assert.ok(!isPropagationError(new CollectorError("AWS_TLS_UNTRUSTED", "x")));
});
