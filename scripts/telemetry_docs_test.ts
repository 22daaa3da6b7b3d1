import assert from "node:assert/strict";
import { renderTelemetryDocs } from "./telemetry_docs.ts";

Deno.test("docs/telemetry.md is generated from the event table and is current", async () => {
  const file = await Deno.readTextFile(new URL("../docs/telemetry.md", import.meta.url));
  assert.equal(
    file,
    renderTelemetryDocs(),
    "docs/telemetry.md is stale: run deno run -A scripts/telemetry_docs.ts",
  );
  assert.match(file, /seclake_messages_received_total/);
});
