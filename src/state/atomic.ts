/**
 * Crash-safe file writes for the state directory: write a temporary file, fsync it, rename it
 * over the target, fsync the directory. Files are created with mode 0600, directories 0700.
 * @module
 */
import { dirname, join } from "node:path";
import { CollectorError, errorMessage } from "../errors.ts";

const encoder = new TextEncoder();

/** Creates `dir` (mode 0700) when missing. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CollectorError(
      "STATE_IO",
      `Cannot create state directory ${dir}: ${errorMessage(e)}`,
      {
        cause: e,
        context: { path: dir },
      },
    );
  }
}

/**
 * Proves the collector can keep state in `dir`: creates it when missing and writes, syncs and
 * removes a probe file there. Throws `STATE_DIR_UNWRITABLE` (a configuration error: the folder
 * `persistence.directory_name` names) saying what failed.
 */
export async function probeStateDir(dir: string): Promise<void> {
  try {
    await ensureDir(dir);
    const probe = join(dir, `.probe-${crypto.randomUUID()}.tmp`);
    const f = await Deno.open(probe, { write: true, createNew: true, mode: 0o600 });
    try {
      await f.write(encoder.encode("probe\n"));
      await f.sync();
    } finally {
      f.close();
      await Deno.remove(probe).catch(() => {});
    }
  } catch (e) {
    const cause = e instanceof CollectorError && e.cause !== undefined ? e.cause : e;
    throw new CollectorError(
      "STATE_DIR_UNWRITABLE",
      `The state folder ${dir} cannot be written: ${errorMessage(cause)}`,
      { cause: e, context: { path: dir } },
    );
  }
}

/** Replaces `path` with `text` atomically. */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${crypto.randomUUID()}.tmp`);
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    try {
      const data = encoder.encode(text);
      let off = 0;
      while (off < data.length) off += await f.write(data.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
    await syncDir(dirname(path));
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new CollectorError("STATE_IO", `Cannot write state file ${path}: ${errorMessage(e)}`, {
      cause: e,
      context: { path },
    });
  }
}

/** Appends `text` to `path` (created 0600) and syncs it to disk. */
export async function appendSynced(path: string, text: string): Promise<void> {
  try {
    const f = await Deno.open(path, { append: true, create: true, mode: 0o600 });
    try {
      const data = encoder.encode(text);
      let off = 0;
      while (off < data.length) off += await f.write(data.subarray(off));
      await f.syncData();
    } finally {
      f.close();
    }
  } catch (e) {
    throw new CollectorError(
      "STATE_IO",
      `Cannot append to state file ${path}: ${errorMessage(e)}`,
      {
        cause: e,
        context: { path },
      },
    );
  }
}

/** Reads `path`, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new CollectorError("STATE_IO", `Cannot read state file ${path}: ${errorMessage(e)}`, {
      cause: e,
      context: { path },
    });
  }
}

/** Moves a corrupt file aside as `<name>.corrupt-<time>`; returns the new path. */
export async function setAside(path: string): Promise<string> {
  const to = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, "")}`;
  await Deno.rename(path, to);
  return to;
}

async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}
