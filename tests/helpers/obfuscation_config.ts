/**
 * A configuration whose one input (a folder) has the obfuscation rules given, for tests of how
 * rules are loaded and applied.
 * @module
 */

/** The YAML of that configuration; `rules` are list items (`- { ... }`), one per line. */
export function obfuscationConfig(rules: string): string {
  return `globals:
  persistence: { directory_name: /tmp/seclake-obf-state }
outputs:
  console_1: { type: console }
inputs:
  lake:
    type: directory
    directory: /tmp
    services:
      events:
        obfuscation:
${rules.split("\n").map((l) => `          ${l}`).join("\n")}
`;
}
