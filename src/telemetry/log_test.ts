import assert from "node:assert/strict";
import { parseNotification } from "../source/notification.ts";
import { CollectorError } from "../errors.ts";
import { logger, setupLogging } from "./log.ts";

const FORGED = "junk\n2026-01-01T00:00:00.000Z INFO    [main] FORGED";

Deno.test("text log lines cannot be forged: control characters in messages and values are escaped", async () => {
  const written: string[] = [];
  await setupLogging({ level: "debug", write: (l) => written.push(l) });
  try {
    // An SQS body that is not JSON: its text reaches the log through the error and its context.
    let error: CollectorError | undefined;
    try {
      parseNotification(FORGED);
    } catch (e) {
      error = e as CollectorError;
    }
    assert.ok(error instanceof CollectorError);
    logger("pipeline").warn("Message refused: {error}", {
      error: error.message,
      ...error.context,
    });
    // A column name with a line break, and an escape sequence for terminals, in a value.
    logger("parquet").error("Column {column} cannot be read", {
      column: "a\r\nb\u2028c",
      tail: "\u001b[31mred\u0085",
    });
  } finally {
    await setupLogging();
  }
  const text = written.join("");
  const lines = text.split("\n").filter((l) => l);
  assert.equal(lines.length, 2, text);
  assert.equal(written.length, 2);
  for (const l of written) assert.equal(l.indexOf("\n"), l.length - 1);
  assert.ok(!lines.some((l) => l.startsWith("2026-01-01T00:00:00.000Z INFO")));
  assert.match(
    lines[0]!,
    /Message refused: DataError 600: .*junk\\n2026-01-01T00:00:00\.000Z INFO {4}\[main\] FORGED/,
  );
  assert.match(lines[1]!, /Column a\\r\\nb\\u2028c cannot be read tail=\\u001b\[31mred\\u0085$/);
});

Deno.test("the JSON log format keeps the values exact, one object per line", async () => {
  const written: string[] = [];
  await setupLogging({ format: "json", write: (l) => written.push(l) });
  try {
    logger("pipeline").warn("Body {body}", { body: FORGED });
  } finally {
    await setupLogging();
  }
  assert.equal(written.length, 1);
  assert.equal(written[0]!.indexOf("\n"), written[0]!.length - 1);
  const record = JSON.parse(written[0]!);
  assert.equal(record.body, FORGED);
  assert.equal(record.message, `Body ${FORGED}`);
});

Deno.test("printable text, backslashes included, is logged as it is", async () => {
  const written: string[] = [];
  await setupLogging({ write: (l) => written.push(l) });
  try {
    logger("main").info("Reading {path}", { path: "C:\\lake\\n é 日本" });
  } finally {
    await setupLogging();
  }
  assert.match(written[0]!, /Reading C:\\lake\\n é 日本\n$/);
});
