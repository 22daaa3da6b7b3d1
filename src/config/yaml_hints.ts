/**
 * Where a YAML syntax error really is. The parser notices an unclosed quote or a key without
 * its colon only lines later, where the text stops making sense; these read the lines before
 * that point the way an operator would, to name the line to fix.
 * @module
 */

/** The line to blame for a syntax error found at `errorLine` (1-based), and what to do. */
export interface SyntaxBlame {
  line: number;
  column: number;
  what: string;
}

/** A line at or before `errorLine` that opens a quote and never closes it, or a key without colon. */
export function blameSyntax(text: string, errorLine: number): SyntaxBlame | undefined {
  const lines = text.split(/\r?\n/).slice(0, errorLine);
  for (const [n, line] of lines.entries()) {
    const open = unclosedQuote(line);
    if (open !== undefined) {
      return {
        line: n + 1,
        column: open + 1,
        what: `the ${line[open] === '"' ? "double" : "single"} quote opened on line ${
          n + 1
        } is not closed: close it at the end of the value`,
      };
    }
  }
  for (let n = lines.length - 1; n >= 0; n--) {
    const m = /^(\s+)([A-Za-z_][\w.-]*)\s+([^\s:#][^:#]*?)\s*$/.exec(lines[n]!);
    if (m) {
      return {
        line: n + 1,
        column: m[1]!.length + 1,
        what: `line ${n + 1} has no colon after its key: write ${m[2]}: ${m[3]}`,
      };
    }
  }
  return undefined;
}

/** The column of a quote that starts a value on `line` and is not closed on it. */
function unclosedQuote(line: string): number | undefined {
  const m = /^(\s*(?:-\s+)?(?:[^\s:#"'][^:#]*:\s+|-\s+)?)(["'])/.exec(line);
  if (!m || /^\s*#/.test(line)) return undefined;
  const start = m[1]!.length;
  const quote = m[2]!;
  for (let i = start + 1; i < line.length; i++) {
    if (quote === '"' && line[i] === "\\") i++;
    else if (line[i] === quote) {
      if (quote === "'" && line[i + 1] === "'") i++;
      else return undefined;
    }
  }
  return start;
}
