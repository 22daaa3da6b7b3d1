/**
 * Start-up warnings: what a valid configuration still does that an operator should know about.
 * `run` logs each one at start-up and `check` prints each one, from this one function, so the
 * two never disagree:
 * - an input with neither `bucket` nor `allowed_buckets`, which then reads only buckets named
 *   like Security Lake's (`aws-security-data-lake-*`), whoever owns them;
 * - a client key file (`key` of a `devo_platform` output) that other users may read;
 * - certificates of `chain` (or intermediates of `cert`) that are expired or not yet valid while
 *   the rest of the file is usable.
 * @module
 */
import { env } from "../env.ts";
import type { Config } from "./types.ts";
import { certificateWarnings } from "./pem.ts";
import { LAKE_BUCKET_PREFIX } from "./schema.ts";

/** One warning: the setting it is about and what to do. */
export interface StartupWarning {
  /** The setting, e.g. `outputs.devo_1.config.key`. */
  readonly setting: string;
  /** Completes the setting's name: what was found and what to do. */
  readonly text: string;
}

/** Options for {@link startupWarnings}. */
export interface StartupWarningOptions {
  /** The time certificates are judged at. Default now. */
  now?: Date;
  /**
   * systemd's `$CREDENTIALS_DIRECTORY` (`LoadCredential=`), whose files only the service can
   * read whatever their mode. Default: the environment's, when it may be read.
   */
  credentialsDirectory?: string;
  /** This process's group id. Default: from `/proc/self/status` where there is one. */
  gid?: number;
}

/** Every start-up warning for `config`, in configuration order. */
export function startupWarnings(
  config: Config,
  options: StartupWarningOptions = {},
): StartupWarning[] {
  const out: StartupWarning[] = [];
  for (const o of config.outputs) {
    if (o.type !== "devo_platform" || !o.chain || !o.cert || !o.key) continue;
    const at = (k: string) => `outputs.${o.name}.config.${k}`;
    for (const w of certificateWarnings({ chain: o.chain, cert: o.cert, key: o.key }, options)) {
      out.push({ setting: at(w.setting), text: w.text });
    }
    const exposed = keyExposure(o.key, options);
    if (exposed) {
      out.push({
        setting: at("key"),
        text: `names ${o.key}, which ${exposed}: the client key lets anyone who reads it send ` +
          `to Devo as this domain; make it readable by the collector's user only (chmod 600, ` +
          `or systemd's LoadCredential=)`,
      });
    }
  }
  for (const i of config.inputs) {
    if (i.type !== "security_lake" || i.bucket !== undefined) continue;
    if (i.allowed_buckets !== undefined) continue;
    out.push({
      setting: `inputs.${i.name}.bucket`,
      text: `is not set, nor allowed_buckets: notifications may name any bucket called ` +
        `${LAKE_BUCKET_PREFIX}*, including other accounts' lakes; set bucket (or ` +
        `allowed_buckets) to the lake bucket`,
    });
  }
  return out;
}

/**
 * Why `path` may be read by other users than this process's (mode bits for group or others),
 * or undefined when it may not (or when that cannot be told, e.g. on Windows). A file in
 * systemd's credentials directory is private to the service whatever its mode; a group-readable
 * file whose group is this process's own (Kubernetes' `fsGroup` with `defaultMode: 0440`) is
 * readable only by this process's group.
 */
export function keyExposure(
  path: string,
  options: Pick<StartupWarningOptions, "credentialsDirectory" | "gid"> = {},
): string | undefined {
  const credentials = options.credentialsDirectory ?? env("CREDENTIALS_DIRECTORY");
  if (credentials && path.startsWith(credentials.replace(/\/*$/, "/"))) return undefined;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    return undefined; // reported by the configuration check
  }
  const mode = info.mode;
  if (mode === null) return undefined;
  const octal = `mode ${(mode & 0o777).toString(8).padStart(4, "0")}`;
  if (mode & 0o004) return `every user of this machine may read (${octal})`;
  if (mode & 0o040) {
    const gid = options.gid ?? ownGid();
    if (gid === undefined || info.gid !== gid) {
      return `the users of group ${info.gid} may read (${octal})`;
    }
  }
  return undefined;
}

/** The effective group id of this process, on Linux. */
function ownGid(): number | undefined {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = /^Gid:\s+\d+\s+(\d+)/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
