import assert from "node:assert/strict";
import { partitionOf, selector, sourceMember, tagChooser } from "./partition.ts";

const CT =
  "aws/CLOUD_TRAIL_MGMT/2.0/region=us-west-2/accountId=111122223333/eventDay=20240410/a.gz.parquet";
const EXT = "ext/my_source/region=eu-west-1/accountId=external/eventDay=20240411/b.parquet";

Deno.test("partition facts come from key=value segments, not positions", () => {
  assert.deepEqual(partitionOf(CT), {
    source: "CLOUD_TRAIL_MGMT",
    version: "2.0",
    region: "us-west-2",
    account: "111122223333",
    day: "20240410",
  });
  assert.deepEqual(partitionOf(EXT), {
    source: "my_source",
    region: "eu-west-1",
    account: "external",
    day: "20240411",
  });
  assert.deepEqual(partitionOf("random/file.parquet"), {});
  assert.equal(
    partitionOf("aws/CLOUD_TRAIL/region=us-east-1/eventHour=2023042314/x").day,
    "20230423",
  );
});

Deno.test("partition names match in any letter case; values are any string", () => {
  const key = "ext/ACME_WAF/1.0/REGION=eu-central-1/accountid=external_acme/eventday=20240412/" +
    "dev-sl-ocsf-processing-1-2024-04-12-3a8d80f4.gz";
  assert.deepEqual(partitionOf(key), {
    source: "ACME_WAF",
    version: "1.0",
    region: "eu-central-1",
    account: "external_acme",
    day: "20240412",
  });
  assert.equal(
    partitionOf("aws/CLOUD_TRAIL/region=us-east-1/accountid=1/EVENTHOUR=2023042314/x").day,
    "20230423",
  );
  const s = selector({ accounts: ["external_acme"], regions: ["eu-central-1"] });
  assert.equal(s(key), undefined);
  assert.equal(s(key.replace("external_acme", "external_other")), "account_excluded");
});

Deno.test("live selection by source, account and region; unknown partitions are kept", () => {
  const s = selector({
    include_sources: ["CLOUD_TRAIL_MGMT", "my_source"],
    accounts: ["111122223333"],
  });
  assert.equal(s(CT), undefined);
  assert.equal(s(EXT), "account_excluded");
  assert.equal(s(CT.replace("CLOUD_TRAIL_MGMT", "VPC_FLOW")), "source_excluded");
  assert.equal(s("random/file.parquet"), undefined);
  const ex = selector({ exclude_sources: ["VPC_FLOW"], regions: ["us-west-2"] });
  assert.equal(ex(CT), undefined);
  assert.equal(ex(CT.replace("CLOUD_TRAIL_MGMT", "VPC_FLOW")), "source_excluded");
  assert.equal(ex(EXT), "region_excluded");
  assert.equal(selector({})(EXT), undefined);
});

Deno.test("devo_tag_map picks the tag per source, else default, else tag", () => {
  const t = tagChooser("cloud.aws.amazon.security_lake.events", {
    CLOUD_TRAIL_MGMT: "cloud.aws.amazon.security_lake.cloudtrail",
    default: "cloud.aws.amazon.security_lake.other",
  });
  assert.equal(t(CT), "cloud.aws.amazon.security_lake.cloudtrail");
  assert.equal(t(EXT), "cloud.aws.amazon.security_lake.other");
  assert.equal(tagChooser("a.b.c")(CT), "a.b.c");
});

Deno.test("sourceMember: the key's facts, those it lacks left out", () => {
  assert.equal(
    sourceMember(
      "aws-security-data-lake-us-east-1-x",
      "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=123456789012/eventDay=20240410/a.parquet",
    ),
    '"@source":{"bucket":"aws-security-data-lake-us-east-1-x","key":"aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=123456789012/eventDay=20240410/a.parquet","source":"CLOUD_TRAIL_MGMT","source_version":"2.0","account":"123456789012","region":"us-east-1","event_day":"20240410"}',
  );
  assert.equal(
    sourceMember("b", "ext/ACME_WAF/accountid=external_acme/eventday=20230811/x.gz"),
    '"@source":{"bucket":"b","key":"ext/ACME_WAF/accountid=external_acme/eventday=20230811/x.gz","source":"ACME_WAF","account":"external_acme","event_day":"20230811"}',
  );
  assert.equal(
    sourceMember(undefined, "aws/VPC_FLOW/region=eu-west-1/accountId=1/eventHour=2023081112/x"),
    '"@source":{"key":"aws/VPC_FLOW/region=eu-west-1/accountId=1/eventHour=2023081112/x","source":"VPC_FLOW","account":"1","region":"eu-west-1","event_day":"20230811"}',
  );
  assert.equal(sourceMember(undefined, "local.parquet"), '"@source":{"key":"local.parquet"}');
});
