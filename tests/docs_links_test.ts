/**
 * The README and the documents under docs/ are for users: every relative link leads to a file of
 * the repository (and to a heading of it, when it names one), the README stays short, and none
 * of them speaks of the steps of the collector's own development.
 */
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { REPO } from "./helpers/collector.ts";

function documents(): string[] {
  const docs = [...Deno.readDirSync(join(REPO, "docs"))]
    .filter((e) => e.isFile && e.name.endsWith(".md"))
    .map((e) => join(REPO, "docs", e.name));
  return [join(REPO, "README.md"), ...docs.sort()];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, "").replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchors(text: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The relative link targets of a Markdown text, outside code blocks and code spans. */
function links(text: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of text.split("\n")) {
    if (line.startsWith("```")) fenced = !fenced;
    if (fenced) continue;
    const prose = line.replace(/`[^`]*`/g, "");
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (!/^[a-z]+:/i.test(target)) out.push(target);
    }
  }
  return out;
}

Deno.test("every relative link of the README and docs/ leads to a file and heading", async () => {
  const broken: string[] = [];
  for (const doc of documents()) {
    const text = await Deno.readTextFile(doc);
    for (const target of links(text)) {
      const [path, anchor] = target.split("#") as [string, string | undefined];
      const file = path === "" ? doc : join(dirname(doc), path);
      const where = `${relative(REPO, doc)} → ${target}`;
      const stat = await Deno.stat(file).catch(() => undefined);
      if (!stat) {
        broken.push(`${where}: no such file`);
        continue;
      }
      if (anchor && file.endsWith(".md")) {
        if (!anchors(await Deno.readTextFile(file)).has(anchor)) {
          broken.push(`${where}: no such heading`);
        }
      }
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("the README is short and points into docs/", async () => {
  const readme = await Deno.readTextFile(join(REPO, "README.md"));
  const lines = readme.split("\n").length;
  assert.ok(lines <= 260, `README.md has ${lines} lines`);
  for (const doc of ["operations", "performance", "trying-locally", "delivery", "errors"]) {
    assert.ok(readme.includes(`(docs/${doc}.md)`), `README links docs/${doc}.md`);
  }
});

const DEV_SESSION =
  /\b(this|that|the|a|each|every|(first|second|third|fourth|earlier|later|previous|next)) (work )?sessions?\b(?! (token|name|duration|policy|tags?)\b)/i;

Deno.test("the README and docs speak of the software, not of its development", async () => {
  const found: string[] = [];
  for (const doc of documents()) {
    const text = await Deno.readTextFile(doc);
    // "session" as a step of development (AWS's session tokens and names are fine).
    const session = DEV_SESSION.exec(text.replace(/\s+/g, " "));
    if (session) found.push(`${relative(REPO, doc)}: ...${session[0]}...`);
    text.split("\n").forEach((line, i) => {
      const where = `${relative(REPO, doc)}:${i + 1}`;
      if (/\bissue\s+#?\d+/i.test(line)) found.push(`${where}: ${line.trim()}`);
      if (/\b20\d\d-\d\d-\d\d\b/.test(line) && /^#/.test(line)) found.push(`${where}: ${line}`);
      if (/\brevisions?\s+`[0-9a-f]{7,}`/.test(line)) found.push(`${where}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, []);
});
