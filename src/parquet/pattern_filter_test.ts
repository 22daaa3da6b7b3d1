import assert from "node:assert/strict";
import {
  mayMatch,
  mayMatchText,
  mayPassForm,
  patternFilter,
  startBytes,
  textForm,
} from "./pattern_filter.ts";

const IPV4 = "\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b";
const enc = new TextEncoder();

Deno.test("an IPv4 pattern starts at a digit and holds three dots", () => {
  const f = patternFilter(IPV4)!;
  const starts = [...f.start!.keys()].filter((c) => f.start![c] === 1);
  assert.deepEqual(starts, [..."0123456789"].map((c) => c.charCodeAt(0)));
  assert.deepEqual(f.need, [[46, 3]]);
  assert.equal(mayMatchText(f, "2024-04-10T12:05:00.123Z"), false); // one dot
  assert.equal(mayMatchText(f, "ec2.amazonaws.com"), false); // two dots
  assert.equal(mayMatchText(f, "a.b.c.d"), false); // no digit
  assert.equal(mayMatchText(f, "from 10.0.0.1"), true);
});

Deno.test("patterns the reader does not know, or that may start anywhere, give no filter", () => {
  for (const p of [".", "\\D+", "[^a]", "(?i:abc)", "(a)\\1", "\\p{L}", "\\u0041", "x|."]) {
    assert.equal(patternFilter(p), undefined, p);
  }
  assert.equal(startBytes("\\S"), undefined);
});

Deno.test("alternatives, optional parts and repeats: starts are unioned, counts are the least", () => {
  const f = patternFilter("a?b|c{2}d")!;
  const starts = [...f.start!.keys()].filter((c) => f.start![c] === 1).map((c) =>
    String.fromCharCode(c)
  );
  assert.deepEqual(starts, ["a", "b", "c"]);
  assert.deepEqual(f.need, []); // b in one branch, c and d in the other
  assert.deepEqual(patternFilter("(?:x-){2,}")!.need, [[120, 2], [45, 2]]);
  // A quote, a backslash or a control character is written escaped in JSON: the backslash.
  assert.equal(startBytes('"')![92], 1);
  assert.equal(startBytes("\\n")![92], 1);
});

Deno.test("no string a pattern matches is ever filtered out, as text or as JSON bytes", () => {
  const patterns = [
    IPV4,
    "\\d{3}-\\d{2}-\\d{4}",
    "[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[a-z]{2,}",
    "(?:arn|ARN):aws",
    "^re|true",
    "[aeiou]{2}",
    "é+|ß",
    "a*",
    "\\bkey\\b",
    "x\\ty",
    '"quoted"',
  ];
  const alphabet = [
    "1",
    "2",
    "0",
    ".",
    "-",
    " ",
    ",",
    "@",
    "a",
    "e",
    "r",
    "t",
    "u",
    "é",
    "ß",
    "k",
    "y",
    "x",
  ];
  const extra = [
    "x\ty",
    "123-45-6789",
    "a@b.co",
    "\t",
    '"',
    "\\",
    "arn:aws",
    "true",
    "key",
    "192.168.0.1",
    "quoted",
  ];
  let seed = 7;
  const rand = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) % n;
  for (const p of patterns) {
    const re = new RegExp(p, "g");
    const f = patternFilter(p);
    let matched = 0;
    for (let i = 0; i < 3000; i++) {
      let s = "";
      const len = rand(14);
      for (let k = 0; k < len; k++) {
        s += rand(3) === 0 ? extra[rand(extra.length)] : alphabet[rand(alphabet.length)];
      }
      const hits = [...s.matchAll(re)].filter((m) => m[0] !== "");
      if (hits.length === 0 || f === undefined) continue;
      matched++;
      assert.ok(mayMatchText(f, s), `${p} on ${JSON.stringify(s)}`);
      const json = enc.encode(JSON.stringify(s));
      assert.ok(mayMatch(f, json, 1, json.length - 1), `${p} on JSON ${JSON.stringify(s)}`);
    }
    if (f !== undefined && p !== "a*") assert.ok(matched > 0, `${p} never matched`);
  }
});

Deno.test("a filter passes no text of an alphabet without its start characters or its needed ones", () => {
  const hex = textForm("0123456789abcdef");
  // An IPv4 address needs dots, which no hex digest holds; a run of digits or of hex letters may.
  assert.equal(mayPassForm(patternFilter("\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b")!, hex), false);
  assert.equal(mayPassForm(patternFilter("\\d{6,}")!, hex), true);
  assert.equal(mayPassForm(patternFilter("[a-f]{8}")!, hex), true);
  // A match that starts at a letter beyond f, or that needs one, cannot lie in a digest.
  assert.equal(mayPassForm(patternFilter("secret\\d+")!, hex), false);
  assert.equal(mayPassForm(patternFilter("\\d+z")!, hex), false);
});
