/**
 * The exit codes of every command: 0 ok, 1 a runtime failure (some object or message failed),
 * 2 a command-line mistake, 69 a dependency unavailable at start-up (AWS, an output), 78 a
 * configuration error (sysexits' EX_UNAVAILABLE and EX_CONFIG).
 * @module
 */

/** Exit codes (see the module). */
export const EXIT = { ok: 0, failure: 1, usage: 2, unavailable: 69, config: 78 } as const;
