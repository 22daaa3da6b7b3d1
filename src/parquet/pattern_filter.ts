/**
 * A quick "could this value match?" test for obfuscation patterns on the fast path: the bytes a
 * non-empty match can start with, read from the pattern's source. A JSON string none of whose
 * bytes is one of them cannot hold a match, so the fast path neither decodes it nor runs the
 * pattern. Empty matches are never replaced (`transform/obfuscate.ts`), so only the first
 * character of a non-empty match counts. Any construct the reader does not know gives no filter:
 * every value is then tried.
 * @module
 */

/** A set of bytes: 1 where a match may start. */
export type StartBytes = Uint8Array;

/** Thrown inside the reader for a construct it does not handle. */
class Unknown extends Error {}

interface First {
  /** Bytes a match of the part can start with (code units >= 0x80 as every byte >= 0x80). */
  set: Uint8Array;
  /** Whether the part can match the empty string (then what follows counts too). */
  nullable: boolean;
  /** ASCII characters every match of the part holds, each at least this many times. */
  counts: Map<number, number>;
}

/** What a JSON string must hold for a pattern to match in it. */
export interface PatternFilter {
  /** Bytes a non-empty match can start at (undefined: any). */
  readonly start: StartBytes | undefined;
  /** Characters (bytes) the text must hold, each at least so many times. */
  readonly need: readonly (readonly [number, number])[];
}

/**
 * The filter of pattern `source`: the bytes a match may start at, and the characters it must
 * hold (`(\d{1,3}\.){3}` holds three dots); undefined when the source is not understood or
 * nothing is known.
 */
export function patternFilter(source: string): PatternFilter | undefined {
  const f = firstOf(source);
  if (f === undefined) return undefined;
  const start = startSet(f.set);
  const need = [...f.counts].filter(([c]) => c >= 0x20 && c < 0x80 && c !== 34 && c !== 92);
  if (start === undefined && need.length === 0) return undefined;
  return { start, need };
}

/** Whether JSON string text `b[from..to)` passes `f` (a match may lie in it). */
export function mayMatch(f: PatternFilter, b: Uint8Array, from: number, to: number): boolean {
  if (f.start !== undefined && !mayStart(f.start, b, from, to)) return false;
  for (const [c, n] of f.need) {
    let k = 0;
    for (let i = from; i < to && k < n; i++) if (b[i] === c) k++;
    if (k < n) return false;
  }
  return true;
}

/** Whether JSON string text `b[from..to)` passes one of `filters`. */
export function mayMatchAny(
  filters: readonly PatternFilter[],
  b: Uint8Array,
  from: number,
  to: number,
): boolean {
  for (let k = 0; k < filters.length; k++) if (mayMatch(filters[k]!, b, from, to)) return true;
  return false;
}

/** Whether text `s` passes one of `filters`. */
export function mayMatchTextAny(filters: readonly PatternFilter[], s: string): boolean {
  for (let k = 0; k < filters.length; k++) if (mayMatchText(filters[k]!, s)) return true;
  return false;
}

/**
 * A fixed form of text, for {@link mayPassForm}: the (ASCII) characters of `any` any number of
 * times, and each character of `most` at most so many times.
 */
export function textForm(
  any: string,
  most: Readonly<Record<string, number>> = {},
): ReadonlyMap<number, number> {
  const form = new Map<number, number>();
  for (const ch of any) form.set(ch.charCodeAt(0), Infinity);
  for (const [ch, n] of Object.entries(most)) form.set(ch.charCodeAt(0), n);
  return form;
}

/**
 * Whether some text of a fixed form may pass `f`: `form` maps each (ASCII) character such text
 * may hold to the most times it can hold it (`Infinity`: any number; see {@link textForm}).
 */
export function mayPassForm(f: PatternFilter, form: ReadonlyMap<number, number>): boolean {
  if (f.start !== undefined && ![...form.keys()].some((c) => f.start![c] === 1)) return false;
  return f.need.every(([c, n]) => (form.get(c) ?? 0) >= n);
}

/** Whether text `s` passes `f` (a match may lie in it). */
export function mayMatchText(f: PatternFilter, s: string): boolean {
  if (f.start !== undefined) {
    let any = false;
    for (let i = 0; i < s.length && !any; i++) {
      const c = s.charCodeAt(i);
      any = f.start[c < 0x80 ? c : 0x80] === 1;
    }
    if (!any) return false;
  }
  for (const [c, n] of f.need) {
    let k = 0;
    for (let i = 0; i < s.length && k < n; i++) if (s.charCodeAt(i) === c) k++;
    if (k < n) return false;
  }
  return true;
}

const WORD = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
const SPACE = [9, 10, 11, 12, 13, 32];

/**
 * The bytes of a JSON string's text (as written between its quotes, escapes included) that a
 * non-empty match of `source` can start at, or undefined when any may (or the source is not
 * understood). Characters written escaped in JSON (`"`, `\` and controls) put the backslash in
 * the set; characters beyond ASCII put every byte from 0x80.
 */
export function startBytes(source: string): StartBytes | undefined {
  const f = firstOf(source);
  if (f === undefined) return undefined;
  return startSet(f.set);
}

/** What a match of `source` must start with and hold; undefined when it is not understood. */
function firstOf(source: string): First | undefined {
  try {
    const r = new Reader(source);
    const f = r.alternation();
    return r.i === source.length ? f : undefined;
  } catch (e) {
    if (e instanceof Unknown) return undefined;
    throw e;
  }
}

/** `set` with the backslash for characters JSON escapes; undefined when it holds every byte. */
function startSet(set: Uint8Array): StartBytes | undefined {
  for (let c = 0; c < 0x20; c++) if (set[c]) set[92] = 1;
  if (set[34]) set[92] = 1;
  let n = 0;
  for (let c = 0; c < 256; c++) n += set[c]!;
  return n === 256 ? undefined : set;
}

/** Whether any of `b[from..to)` is in `set`. */
export function mayStart(set: StartBytes, b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (set[b[i]!] === 1) return true;
  return false;
}

/** A recursive-descent reader of the pattern syntax that matters for the first character. */
class Reader {
  i = 0;
  constructor(readonly s: string) {}

  alternation(): First {
    const out = this.sequence();
    while (this.s[this.i] === "|") {
      this.i++;
      const b = this.sequence();
      or(out.set, b.set);
      out.nullable ||= b.nullable;
      for (const [c, n] of out.counts) {
        const m = b.counts.get(c);
        if (m === undefined) out.counts.delete(c);
        else out.counts.set(c, Math.min(n, m));
      }
    }
    return out;
  }

  sequence(): First {
    const set = new Uint8Array(256);
    let nullable = true;
    const counts = new Map<number, number>();
    while (this.i < this.s.length && this.s[this.i] !== "|" && this.s[this.i] !== ")") {
      const a = this.quantified();
      if (nullable) or(set, a.set);
      nullable &&= a.nullable;
      for (const [c, n] of a.counts) counts.set(c, (counts.get(c) ?? 0) + n);
    }
    return { set, nullable, counts };
  }

  quantified(): First {
    const a = this.atom();
    const c = this.s[this.i];
    if (c === "*" || c === "?") {
      this.i++;
      a.nullable = true;
      a.counts.clear();
    } else if (c === "+") {
      this.i++;
    } else if (c === "{") {
      const m = /^\{(\d+)(,\d*)?\}/.exec(this.s.slice(this.i));
      if (m) {
        this.i += m[0].length;
        const min = Number(m[1]);
        if (min === 0) a.nullable = true;
        for (const [k, n] of a.counts) a.counts.set(k, n * Math.min(min, 1000));
        if (min === 0) a.counts.clear();
      } else throw new Unknown();
    } else return a;
    if (this.s[this.i] === "?") this.i++; // lazy
    return a;
  }

  atom(): First {
    const s = this.s;
    const c = s[this.i]!;
    this.i++;
    switch (c) {
      case "(": {
        let zeroWidth = false;
        if (s[this.i] === "?") {
          const rest = s.slice(this.i, this.i + 3);
          if (rest.startsWith("?:")) this.i += 2;
          else if (rest.startsWith("?=") || rest.startsWith("?!")) {
            this.i += 2;
            zeroWidth = true;
          } else if (rest === "?<=" || rest === "?<!") {
            this.i += 3;
            zeroWidth = true;
          } else if (rest.startsWith("?<")) {
            const end = s.indexOf(">", this.i);
            if (end < 0) throw new Unknown();
            this.i = end + 1;
          } else throw new Unknown();
        }
        const inner = this.alternation();
        if (s[this.i] !== ")") throw new Unknown();
        this.i++;
        return zeroWidth ? empty() : inner;
      }
      case ")":
      case "|":
      case "*":
      case "+":
      case "?":
      case "{":
        throw new Unknown();
      case "^":
      case "$":
        return empty();
      case ".":
        return one(new Uint8Array(256).fill(1));
      case "[":
        return one(this.#class());
      case "\\": {
        const e = s[this.i++];
        if (e === "b" || e === "B") return empty();
        return one(this.#escape(e, false));
      }
      default:
        return one(chars([c.charCodeAt(0)]));
    }
  }

  /** A class `[...]` (the `[` read). */
  #class(): Uint8Array {
    const s = this.s;
    if (s[this.i] === "^") throw new Unknown();
    const set = new Uint8Array(256);
    while (this.i < s.length && s[this.i] !== "]") {
      const lo = this.#classChar(set);
      if (lo === undefined) continue;
      if (s[this.i] === "-" && s[this.i + 1] !== "]" && this.i + 1 < s.length) {
        this.i++;
        const hi = this.#classChar(set);
        if (hi === undefined || hi < lo) throw new Unknown();
        for (let c = lo; c <= Math.min(hi, 0x7f); c++) set[c] = 1;
        if (hi >= 0x80) set.fill(1, 0x80);
      } else or(set, chars([lo]));
    }
    if (s[this.i] !== "]") throw new Unknown();
    this.i++;
    return set;
  }

  /** One character of a class (its code), or undefined for a set escape added to `set`. */
  #classChar(set: Uint8Array): number | undefined {
    const s = this.s;
    const c = s[this.i++]!;
    if (c !== "\\") return c.charCodeAt(0);
    const e = s[this.i++];
    if (e === "b") return 8;
    const single = ESCAPES[e ?? ""];
    if (single !== undefined) return single;
    if (e !== undefined && /[dDwWsS]/.test(e)) {
      or(set, this.#escape(e, true));
      return undefined;
    }
    if (e !== undefined && /[^A-Za-z0-9]/.test(e)) return e.charCodeAt(0);
    throw new Unknown();
  }

  /** The set of escape `\e` (its backslash read). */
  #escape(e: string | undefined, _inClass: boolean): Uint8Array {
    if (e === undefined) throw new Unknown();
    switch (e) {
      case "d":
        return chars([..."0123456789"].map((x) => x.charCodeAt(0)));
      case "w":
        return chars([...WORD].map((x) => x.charCodeAt(0)));
      case "s": {
        const set = chars(SPACE);
        set.fill(1, 0x80); // no-break and other Unicode spaces
        return set;
      }
      case "D":
      case "W":
      case "S":
        return new Uint8Array(256).fill(1);
    }
    const single = ESCAPES[e];
    if (single !== undefined) return chars([single]);
    if (/[^A-Za-z0-9]/.test(e)) return chars([e.charCodeAt(0)]);
    throw new Unknown();
  }
}

/** A part that matches only the empty string. */
function empty(): First {
  return { set: new Uint8Array(256), nullable: true, counts: new Map() };
}

/** A part that matches one character of `set`: counted when it is one ASCII character. */
function one(set: Uint8Array): First {
  const counts = new Map<number, number>();
  let only = -1;
  for (let c = 0; c < 256; c++) {
    if (!set[c]) continue;
    if (only !== -1 || c >= 0x80) {
      only = -2;
      break;
    }
    only = c;
  }
  if (only >= 0) counts.set(only, 1);
  return { set, nullable: false, counts };
}

const ESCAPES: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, v: 11, "0": 0 };

function chars(codes: number[]): Uint8Array {
  const set = new Uint8Array(256);
  for (const c of codes) {
    if (c >= 0x80) set.fill(1, 0x80);
    else set[c] = 1;
  }
  return set;
}

function or(a: Uint8Array, b: Uint8Array): void {
  for (let c = 0; c < 256; c++) a[c]! |= b[c]!;
}
