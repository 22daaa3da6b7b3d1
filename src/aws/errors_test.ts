import assert from "node:assert/strict";
import { wrapAwsError } from "./errors.ts";

const sdk = (name: string, status: number) =>
  Object.assign(new Error("The operation is not valid for the object's storage class"), {
    name,
    $metadata: { httpStatusCode: status },
  });

Deno.test("an archived object (InvalidObjectState, 403) is ApiError 411, not retried", () => {
  const e = wrapAwsError(sdk("InvalidObjectState", 403), "S3", "GetObject", { key: "k" });
  assert.equal(e.code, "S3_OBJECT_ARCHIVED");
  assert.equal(e.id, 411);
  assert.equal(e.retryable, false);
  assert.match(e.message, /^ApiError 411: S3 GetObject failed: InvalidObjectState \(HTTP 403\)/);
  // Any other 403 is still a refusal of access.
  assert.equal(wrapAwsError(sdk("AccessDenied", 403), "S3", "GetObject").code, "S3_FORBIDDEN");
});
