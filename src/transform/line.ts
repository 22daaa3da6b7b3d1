/**
 * The Devo syslog line: `<14>{RFC 3339 UTC time with ms} {hostname} {tag}: {json}\n`.
 * Priority 14 is facility user, severity info, as Devo's SDKs send.
 * @module
 */

/** Options for {@link LineFormatter}. */
export interface LineFormatOptions {
  /** Host name in the header; spaces are replaced by `_`. */
  hostname: string;
  /** Devo tag (table). */
  tag: string;
  /** Value of `@devo_pulling_id`; left out when undefined. */
  pullingId?: string;
  /** Clock for the header time; defaults to `Date.now`. */
  now?: () => number;
  /** The tag for an object key (`devo_tag_map`); `tag` when absent. */
  tagFor?: (key: string) => string;
}

/** Builds Devo lines for JSON-serialized events; one formatter per pull and tag. */
export class LineFormatter {
  #prefix: string;
  #suffix: string;
  #now: () => number;
  #options: LineFormatOptions;
  #byTag?: Map<string, LineFormatter>;

  /** Creates a formatter for the given host, tag and pulling id. */
  constructor(options: LineFormatOptions) {
    this.#options = options;
    const host = options.hostname.replace(/\s+/g, "_") || "localhost";
    this.#prefix = ` ${host} ${options.tag}: `;
    this.#suffix = options.pullingId === undefined
      ? ""
      : `"@devo_pulling_id":${JSON.stringify(options.pullingId)}`;
    this.#now = options.now ?? Date.now;
  }

  /** The formatter for events of the object `key`: the same, with that object's tag. */
  forKey(key: string): LineFormatter {
    const tagFor = this.#options.tagFor;
    if (!tagFor) return this;
    return this.withTag(tagFor(key));
  }

  /** The same formatter with the tag `tag` (`tag_routes`, or an object's `devo_tag_map` tag). */
  withTag(tag: string): LineFormatter {
    if (tag === this.#options.tag) return this;
    this.#byTag ??= new Map();
    let f = this.#byTag.get(tag);
    if (!f) {
      this.#byTag.set(tag, f = new LineFormatter({ ...this.#options, tag, tagFor: undefined }));
    }
    return f;
  }

  /** The header for the current time, e.g. `<14>2024-04-10T12:05:00.123Z host tag: `. */
  header(): string {
    return "<14>" + new Date(this.#now()).toISOString() + this.#prefix;
  }

  /** The JSON member(s) every event gets (`"@devo_pulling_id":"..."`), or "" when none. */
  get extraMembers(): string {
    return this.#suffix;
  }

  /** One line for `json` taken as is (it already carries {@link extraMembers}). */
  rawLine(json: string, header = this.header()): string {
    return header + json + "\n";
  }

  /**
   * One line for `json`, the serialized event object (`{...}`), with the pulling id added as
   * its last member and a trailing newline.
   */
  line(json: string, header = this.header()): string {
    return header + this.#withPullingId(json) + "\n";
  }

  #withPullingId(json: string): string {
    return withMembers(json, this.#suffix);
  }
}

/**
 * The JSON object text `json` with the member text `members` (e.g. `"@devo_pulling_id":"1"`)
 * added as its last member; `json` itself when `members` is empty.
 */
export function withMembers(json: string, members: string): string {
  if (members === "") return json;
  return json === "{}" ? "{" + members + "}" : json.slice(0, -1) + "," + members + "}";
}
