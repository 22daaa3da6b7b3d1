import assert from "node:assert/strict";
import { configuredQueueUrl, parseQueueArn, queueUrlOfArn } from "./queue_arn.ts";
import { inputNetwork } from "./network.ts";

const ARN = "arn:aws:sqs:eu-west-1:123456789012:AmazonSecurityLake-abc-Main-Queue";
const env = () => undefined;

Deno.test("an ARN's region, account and name make the queue URL on AWS's endpoint", () => {
  assert.deepEqual(parseQueueArn(ARN), {
    partition: "aws",
    region: "eu-west-1",
    account: "123456789012",
    name: "AmazonSecurityLake-abc-Main-Queue",
  });
  assert.equal(
    queueUrlOfArn(ARN, inputNetwork({}, env)),
    "https://sqs.eu-west-1.amazonaws.com/123456789012/AmazonSecurityLake-abc-Main-Queue",
  );
  assert.equal(
    queueUrlOfArn(ARN, inputNetwork({ use_fips_endpoint: true }, env)),
    "https://sqs-fips.eu-west-1.amazonaws.com/123456789012/AmazonSecurityLake-abc-Main-Queue",
  );
  assert.equal(
    queueUrlOfArn("arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo", inputNetwork({}, env)),
    "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo",
  );
  // GovCloud's regional endpoints are its FIPS endpoints.
  assert.equal(
    queueUrlOfArn(
      "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q",
      inputNetwork({ use_fips_endpoint: true }, env),
    ),
    "https://sqs.us-gov-west-1.amazonaws.com/123456789012/q",
  );
});

Deno.test("a configured SQS endpoint carries the ARN's account and name", () => {
  assert.equal(
    queueUrlOfArn(ARN, inputNetwork({ endpoint_url: "https://127.0.0.1:4566/" }, env)),
    "https://127.0.0.1:4566/123456789012/AmazonSecurityLake-abc-Main-Queue",
  );
  const vpce = "https://vpce-1.sqs.eu-west-1.vpce.amazonaws.com";
  assert.equal(
    queueUrlOfArn(
      ARN,
      inputNetwork({ endpoint_url: "https://other", sqs_endpoint_url: vpce }, env),
    ),
    `${vpce}/123456789012/AmazonSecurityLake-abc-Main-Queue`,
  );
});

Deno.test("queue_url is used as given; queue_name alone gives no URL; a non-ARN is refused", () => {
  const net = inputNetwork({}, env);
  assert.equal(configuredQueueUrl({ queue_url: "https://q/1/x" }, net), "https://q/1/x");
  assert.equal(configuredQueueUrl({}, net), undefined);
  assert.match(configuredQueueUrl({ queue_arn: ARN }, net)!, /^https:\/\/sqs\.eu-west-1\./);
  assert.equal(parseQueueArn("arn:aws:sns:eu-west-1:123456789012:t"), undefined);
  assert.equal(parseQueueArn("arn:aws:sqs:eu-west-1:1234:q"), undefined);
  assert.throws(() => queueUrlOfArn("https://sqs.eu-west-1.amazonaws.com/1/q", net), RangeError);
});
