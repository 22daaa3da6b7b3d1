import assert from "node:assert/strict";
import { blameSyntax } from "./yaml_hints.ts";

Deno.test("an unclosed quote is blamed on the line that opens it", () => {
  const text = 'a:\n  b: "x"\n  c: "unclosed\n  d: 1\n  e: 2\n';
  assert.deepEqual(blameSyntax(text, 5), {
    line: 3,
    column: 6,
    what: "the double quote opened on line 3 is not closed: close it at the end of the value",
  });
  assert.equal(blameSyntax("a:\n  b: 'it''s'\n  c: \"x \\\" y\"\n", 3), undefined);
});

Deno.test("a key without its colon is blamed on its own line", () => {
  const text = "inputs:\n  lake:\n    region us-east-1\n    queue_name: q\n";
  assert.deepEqual(blameSyntax(text, 4), {
    line: 3,
    column: 5,
    what: "line 3 has no colon after its key: write region: us-east-1",
  });
});

Deno.test("lines after the error are not blamed", () => {
  assert.equal(blameSyntax('a:\n  b: [1\nc: "open\n', 2), undefined);
});
