/**
 * Checks the certificate files of a `devo_platform` output before anything connects: each file
 * exists and is readable, holds the PEM it should, every certificate is valid now, and the key
 * belongs to the certificate. Key material never appears in a message.
 * @module
 */
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { Buffer } from "node:buffer";
import type { ErrorCode } from "../errors.ts";
import { fileProblem } from "./_util.ts";

/** One problem with a certificate file, for the setting (`chain`, `cert` or `key`) that names it. */
export interface PemProblem {
  readonly code: ErrorCode;
  readonly setting: "chain" | "cert" | "key";
  /** Completes "outputs.x.config.<setting> ...": what is wrong and the fix. */
  readonly text: string;
}

/** Absolute paths of the three files. */
export interface CertificateFiles {
  readonly chain: string;
  readonly cert: string;
  readonly key: string;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |)PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

/** A certificate that does not stop the collector but deserves attention. */
export interface PemWarning {
  readonly setting: "chain" | "cert";
  /** Completes "outputs.x.config.<setting> ...": what was found and what to do. */
  readonly text: string;
}

/** Checks `files` as of `options.now` (default now); returns every problem found. */
export function checkCertificateFiles(
  files: CertificateFiles,
  options: { now?: Date } = {},
): PemProblem[] {
  return inspectCertificateFiles(files, options).problems;
}

/**
 * The certificates of `files` that are out of their validity period but do not stop the
 * collector: extra certificates of `chain` while another one in it is valid, and the
 * intermediates after the first certificate of `cert`.
 */
export function certificateWarnings(
  files: CertificateFiles,
  options: { now?: Date } = {},
): PemWarning[] {
  return inspectCertificateFiles(files, options).warnings;
}

function inspectCertificateFiles(
  files: CertificateFiles,
  options: { now?: Date },
): { problems: PemProblem[]; warnings: PemWarning[] } {
  const found = new Inspection(files, options.now ?? new Date());
  found.certificates("chain");
  const cert = found.certificates("cert");
  const key = found.privateKey();
  if (cert?.[0] && key && !samePublicKey(cert[0], key)) {
    found.problems.push({
      code: "CONFIG_KEY_MISMATCH",
      setting: "key",
      text:
        `names ${files.key}, which is not the private key of the certificate in ${files.cert} (${
          subject(cert[0])
        }): use the key issued with that certificate`,
    });
  }
  return { problems: found.problems, warnings: found.warnings };
}

/** The problems and warnings found so far in one output's three files. */
class Inspection {
  readonly problems: PemProblem[] = [];
  readonly warnings: PemWarning[] = [];
  readonly #files: CertificateFiles;
  readonly #now: Date;

  constructor(files: CertificateFiles, now: Date) {
    this.#files = files;
    this.#now = now;
  }

  /** The text of the file `setting` names; undefined, with the problem noted, if unreadable. */
  read(setting: PemProblem["setting"]): string | undefined {
    const path = this.#files[setting];
    try {
      return Deno.readTextFileSync(path);
    } catch (e) {
      const [code, why] = fileProblem(e);
      this.problems.push({ code, setting, text: `names ${path}, which ${why}` });
      return undefined;
    }
  }

  /** The certificates of `chain` or `cert`, each checked against the clock. */
  certificates(setting: "chain" | "cert"): X509Certificate[] | undefined {
    const text = this.read(setting);
    if (text === undefined) return undefined;
    const out = this.#parse(setting, text);
    if (out !== undefined) this.#checkDates(setting, out);
    return out;
  }

  #parse(setting: "chain" | "cert", text: string): X509Certificate[] | undefined {
    const path = this.#files[setting];
    const blocks = text.match(CERT_BLOCK) ?? [];
    if (blocks.length === 0) {
      this.problems.push({
        code: "CONFIG_NOT_PEM",
        setting,
        text: `names ${path}, which holds no PEM certificate (${
          whatIs(text)
        }): use the PEM file Devo provides`,
      });
      return undefined;
    }
    const out: X509Certificate[] = [];
    for (const [n, block] of blocks.entries()) {
      try {
        out.push(new X509Certificate(block));
      } catch {
        this.problems.push({
          code: "CONFIG_NOT_PEM",
          setting,
          text: `names ${path}, whose certificate ${
            n + 1
          } is damaged (not valid base64 DER): download the file again`,
        });
        return undefined;
      }
    }
    return out;
  }

  #checkDates(setting: "chain" | "cert", out: X509Certificate[]): void {
    const path = this.#files[setting];
    const now = this.#now.getTime();
    const valid = (c: X509Certificate) =>
      new Date(c.validFrom).getTime() <= now && new Date(c.validTo).getTime() >= now;
    // The client certificate is the first of `cert`; the server is trusted through any valid
    // certificate of `chain`. Certificates beyond those are only warned about.
    const usable = setting === "cert" ? valid(out[0]!) : out.some(valid);
    for (const [n, c] of out.entries()) {
      const from = new Date(c.validFrom);
      const to = new Date(c.validTo);
      const extra = usable && (setting === "chain" || n > 0);
      if (to.getTime() < now) {
        if (extra) {
          this.warnings.push({
            setting,
            text: `names ${path}, whose certificate ${n + 1} (${subject(c)}) expired on ${
              isoDay(to)
            }; it is not used, the others are`,
          });
        } else {
          this.problems.push({
            code: "CONFIG_CERT_EXPIRED",
            setting,
            text: `names ${path}, whose certificate ${subject(c)} expired on ${isoDay(to)}${
              setting === "chain" && out.length > 1 ? ", like every other certificate in it" : ""
            }: download fresh certificates from Devo`,
          });
        }
      } else if (from.getTime() > now) {
        if (extra) {
          this.warnings.push({
            setting,
            text: `names ${path}, whose certificate ${n + 1} (${subject(c)}) is valid only from ${
              isoDay(from)
            }; it is not used until then`,
          });
        } else {
          this.problems.push({
            code: "CONFIG_CERT_NOT_YET_VALID",
            setting,
            text: `names ${path}, whose certificate ${subject(c)} is valid only from ${
              isoDay(from)
            }: check this machine's clock`,
          });
        }
      }
    }
  }

  /** The private key of `key`, unencrypted and readable; undefined with the problem noted. */
  privateKey(): KeyObject | undefined {
    const keyText = this.read("key");
    if (keyText === undefined) return undefined;
    const path = this.#files.key;
    if (/ENCRYPTED/.test(keyText) && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyText)) {
      this.problems.push({
        code: "CONFIG_KEY_ENCRYPTED",
        setting: "key",
        text:
          `names ${path}, which holds a passphrase-protected key: write an unencrypted copy with openssl pkey and point key at it`,
      });
      return undefined;
    }
    const block = KEY_BLOCK.exec(keyText)?.[0];
    try {
      if (block === undefined) throw new Error("no block");
      return createPrivateKey(block);
    } catch {
      this.problems.push({
        code: "CONFIG_NOT_PEM",
        setting: "key",
        text: `names ${path}, which holds no usable PEM private key (${
          block ? "the key block is damaged" : whatIs(keyText)
        }): use the domain's .key file from Devo`,
      });
      return undefined;
    }
  }
}

function samePublicKey(cert: X509Certificate, key: KeyObject): boolean {
  try {
    const a = cert.publicKey.export({ type: "spki", format: "der" });
    const b = createPublicKey(key).export({ type: "spki", format: "der" });
    return Buffer.compare(a, b) === 0;
  } catch {
    return false;
  }
}

function subject(c: X509Certificate): string {
  return JSON.stringify(c.subject.replace(/\n/g, ", "));
}

function isoDay(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** What a file that is not the expected PEM looks like, without showing its contents. */
function whatIs(text: string): string {
  const kind = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1];
  if (kind) return `it holds a PEM ${kind.toLowerCase()}`;
  if (text.trim() === "") return "it is empty";
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x08\x0e-\x1f]/.test(text)) return "it is binary, perhaps DER or PKCS#12";
  return "it is text without PEM markers";
}
