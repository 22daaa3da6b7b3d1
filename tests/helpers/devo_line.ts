/**
 * Parses a Devo syslog line as a receiver sees it, keeping 64-bit integers exact.
 * @module
 */

/** The parts of one line. */
export interface DevoLine {
  priority: number;
  time: string;
  host: string;
  tag: string;
  /** The event, with integers beyond 2^53 as bigint. */
  event: Record<string, unknown>;
  /** The JSON text. */
  raw: string;
}

const LINE = /^<(\d+)>(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (\S+): (\{.*\})$/;

/** Parses `line` (without its newline); throws when it is not a well-formed Devo line. */
export function parseDevoLine(line: string): DevoLine {
  const m = LINE.exec(line);
  if (!m) throw new Error(`not a Devo line: ${line.slice(0, 200)}`);
  const raw = m[5]!;
  const event = JSON.parse(
    raw,
    (_k, v, ctx?: { source?: string }) =>
      typeof v === "number" && !Number.isSafeInteger(v) && ctx?.source && /^-?\d+$/.test(ctx.source)
        ? BigInt(ctx.source)
        : v,
  );
  return { priority: Number(m[1]), time: m[2]!, host: m[3]!, tag: m[4]!, event, raw };
}
