/**
 * Pass 4 of loading a configuration: the files settings name. Certificates and keys of Devo
 * outputs (readable, PEM, valid, matching), the CA bundle for AWS (`ca_bundle` or
 * `AWS_CA_BUNDLE`), and a directory input's folder.
 * @module
 */
import { resolve } from "node:path";
import type { ErrorCode } from "../errors.ts";
import { fileProblem } from "./_util.ts";
import { checkCertificateFiles } from "./pem.ts";
import { formatPath } from "./report.ts";
import type { Report } from "./report.ts";
import type { Config } from "./types.ts";

/** What the file checks need besides the configuration. */
export interface FileCheckOptions {
  /** The time certificates are judged at. */
  now: Date;
  env: (name: string) => string | undefined;
}

/**
 * Checks the files `config` names (see the module). The configuration may still hold mistakes:
 * an output whose three files are not all named is left to the relations pass.
 */
export function checkFiles(
  r: Report,
  config: Pick<Config, "outputs" | "inputs">,
  options: FileCheckOptions,
): void {
  for (const o of config.outputs) {
    if (o.type !== "devo_platform" || !o.chain || !o.cert || !o.key) continue;
    const at = (k: string) => ["outputs", o.name, "config", k];
    for (
      const problem of checkCertificateFiles({ chain: o.chain, cert: o.cert, key: o.key }, {
        now: options.now,
      })
    ) {
      r.fail(
        problem.code,
        at(problem.setting),
        r.where.get(formatPath(at(problem.setting)))?.valueLine ??
          r.lineNear(at(problem.setting)),
        problem.text,
      );
    }
  }
  for (const i of config.inputs) {
    if (i.type !== "security_lake") continue;
    const path = ["inputs", i.name, "ca_bundle"];
    const env = options.env("AWS_CA_BUNDLE")?.trim();
    const bundle = i.ca_bundle ?? (env ? resolve(env) : undefined);
    if (bundle === undefined) continue;
    const problem = readCaBundle(bundle);
    if ("pem" in problem) continue;
    const from = i.ca_bundle ? "" : " (from the AWS_CA_BUNDLE environment variable)";
    r.fail(
      problem.code,
      i.ca_bundle ? path : ["inputs", i.name],
      i.ca_bundle ? r.where.get(formatPath(path))?.valueLine : r.lineNear(path),
      `${i.ca_bundle ? "names" : "uses"} ${bundle}${from}, which ${problem.why}`,
    );
  }
  for (const i of config.inputs) {
    if (i.type !== "directory" || i.directory === undefined) continue;
    const path = ["inputs", i.name, "directory"];
    const line = r.where.get(formatPath(path))?.valueLine;
    try {
      if (!Deno.statSync(i.directory).isDirectory) {
        r.fail(
          "CONFIG_FILE_UNREADABLE",
          path,
          line,
          `names ${i.directory}, which is a file, not a folder`,
        );
      }
    } catch (e) {
      const [code, why] = fileProblem(e);
      r.fail(code, path, line, `names ${i.directory}, which ${why}`);
    }
  }
}

/**
 * The CA bundle at `path`: its PEM text, or why it cannot be used (a catalogue code and the
 * words completing "names PATH, which ..."). The one reading of a bundle, for the
 * configuration's file checks and for the AWS clients.
 */
export function readCaBundle(
  path: string,
): { readonly pem: string } | { readonly code: ErrorCode; readonly why: string } {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    const [code, why] = fileProblem(e);
    return { code, why };
  }
  return /-----BEGIN CERTIFICATE-----/.test(text)
    ? { pem: text }
    : { code: "CONFIG_CA_BUNDLE", why: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)" };
}
