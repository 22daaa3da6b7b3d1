/**
 * Events larger than `max_event_bytes`: measuring serialized events, and cutting one down to
 * `{"@seclake_truncated":true,"@seclake_original_bytes":N, ...the first members that fit}`.
 * Members are kept whole and in order, copied as text (64-bit integers keep their digits); a
 * member too large to fit is left out and the following ones are still tried.
 * @module
 */

/** UTF-8 length of `s`, without encoding it. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a surrogate pair: 4 bytes for 2 UTF-16 units
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/** Whether `json` takes more than `maxBytes` bytes in UTF-8 (cheap when clearly not). */
export function isOversized(json: string, maxBytes: number): boolean {
  if (json.length > maxBytes) return true;
  if (json.length * 3 <= maxBytes) return false;
  return utf8Length(json) > maxBytes;
}

/** The top-level members of the JSON object text `json` (`"key":value`), as text. */
export function topLevelMembers(json: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      if (depth === 1 && start < 0) start = i;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0 && start >= 0) out.push(json.slice(start, i));
    } else if (c === 0x2c && depth === 1) {
      if (start >= 0) out.push(json.slice(start, i));
      start = -1;
    }
  }
  return out;
}

/**
 * `json` (an event object's text of `originalBytes` bytes) cut down to at most `maxBytes`
 * bytes: the two marker members, then the event's members in order, each kept only when it
 * still fits. Members named in `last` (e.g. `"@devo_pulling_id":"..."`, given as member text)
 * are put at the end and their room is reserved first.
 */
export function truncateEvent(
  json: string,
  maxBytes: number,
  originalBytes: number,
  last: readonly string[] = [],
): string {
  let s = `{"@seclake_truncated":true,"@seclake_original_bytes":${originalBytes}`;
  let size = utf8Length(s) + 1; // the closing brace
  for (const m of last) size += 1 + utf8Length(m);
  for (const member of topLevelMembers(json)) {
    if (last.includes(member)) continue;
    const n = 1 + utf8Length(member);
    if (size + n > maxBytes) continue;
    s += "," + member;
    size += n;
  }
  for (const m of last) s += "," + m;
  return s + "}";
}
