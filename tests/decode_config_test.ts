/**
 * `seclake decode --config`: an input's obfuscation, drop_events, tag_routes and source_fields
 * previewed on a local file, as the collector applies them, on the fast path and the object
 * path alike.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeFile, lakeKeyOf } from "../src/cli/decode.ts";
import { loadConfig } from "../src/config/load.ts";
import { main } from "../src/cli/main.ts";
import { writeOcsfParquet } from "./lib/ocsf_fixtures.ts";

const CONFIG = `
outputs:
  out: { type: console }
inputs:
  other:
    type: directory
    directory: /tmp
  lake:
    type: directory
    directory: /tmp
    services:
      events:
        source_fields: true
        obfuscation:
          - { paths: [src_endpoint.ip], method: mask, value: MASKED }
        drop_events:
          - { path: actor.user.uid, equals: s3.amazonaws.com }
        tag_routes:
          - { path: api.operation, matches: "^Delete", tag: my.app.deletes }
`;

async function decode(path: string, config: string, format: "ocsf" | "devo", reference: boolean) {
  const c = await loadConfig(config);
  const input = c.inputs.find((i) => i.name === "lake")!;
  let text = "";
  const out = {
    write(p: Uint8Array) {
      text += new TextDecoder().decode(p);
      return Promise.resolve(p.length);
    },
  };
  const n = await decodeFile(path, { out, format, reference, input: { config: c, input } });
  const lines = text.split("\n").slice(0, -1);
  assert.equal(lines.length, n);
  return lines;
}

Deno.test("decode --config: the input's rules on a local file, fast path and object path alike", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const key =
      "aws/CLOUD_TRAIL_MGMT/2.0/region=eu-west-1/accountId=123456789012/eventDay=20240410";
    await Deno.mkdir(join(dir, key), { recursive: true });
    const path = join(dir, key, "a.parquet");
    await writeOcsfParquet(path, { classUid: 6003, rows: 400, seed: 3, rowGroupSize: 150 });
    const config = join(dir, "config.yaml");
    await Deno.writeTextFile(config, CONFIG);
    assert.equal(lakeKeyOf(path), `${key}/a.parquet`);
    assert.equal(lakeKeyOf(join(dir, "a.parquet")), undefined);

    const plain = await decode(path, config, "ocsf", true);
    const all: string[] = [];
    await decodeFile(path, {
      out: {
        write(p) {
          all.push(...new TextDecoder().decode(p).split("\n").slice(0, -1));
          return Promise.resolve(p.length);
        },
      },
    });
    assert.equal(all.length, 400);
    const dropped = all.filter((l) => JSON.parse(l).actor?.user?.uid === "s3.amazonaws.com");
    assert.ok(dropped.length > 0);
    assert.equal(plain.length, 400 - dropped.length);
    for (const line of plain) {
      const e = JSON.parse(line);
      assert.notEqual(e.actor?.user?.uid, "s3.amazonaws.com");
      if (e.src_endpoint?.ip !== undefined) assert.equal(e.src_endpoint.ip, "MASKED");
      assert.deepEqual(e["@source"], {
        key: `${key}/a.parquet`,
        source: "CLOUD_TRAIL_MGMT",
        source_version: "2.0",
        account: "123456789012",
        region: "eu-west-1",
        event_day: "20240410",
      });
    }
    // The fast path prints the same events.
    assert.deepEqual(await decode(path, config, "ocsf", false), plain);
    // Devo lines carry each event's tag, and @source just before @devo_pulling_id.
    for (const reference of [false, true]) {
      const devo = await decode(path, config, "devo", reference);
      assert.equal(devo.length, plain.length);
      for (const line of devo) {
        const m = line.match(/^<14>\S+ \S+ (\S+): (\{.*\})$/)!;
        const e = JSON.parse(m[2]!);
        const keys = Object.keys(e);
        assert.deepEqual(keys.slice(-2), ["@source", "@devo_pulling_id"]);
        const tag = /^Delete/.test(e.api?.operation ?? "")
          ? "my.app.deletes"
          : "cloud.aws.amazon.security_lake.events";
        assert.equal(m[1], tag, line.slice(0, 200));
      }
    }
    // Through the command line: --input names an input, and an unknown one is a usage error.
    assert.equal(await main(["decode", "--config", config, "--input", "lake", path]), 0);
    assert.equal(await main(["decode", "--config", config, "--input", "nope", path]), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
