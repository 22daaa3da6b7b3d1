/**
 * Client certificates close to their end: at start-up the collector warns when the certificate
 * of a `devo_platform` output expires within 30 days, so it is renewed before Devo refuses it.
 * @module
 */
import { X509Certificate } from "node:crypto";
import type { OutputConfig } from "../config/types.ts";

/** A client certificate that expires soon. */
export interface ExpiringCertificate {
  readonly output: string;
  /** Path of the certificate file (`cert`). */
  readonly path: string;
  /** Its subject, e.g. `CN=domain.devo.com`. */
  readonly subject: string;
  readonly notAfter: Date;
  /** Whole days left (0 on its last day, negative once expired). */
  readonly daysLeft: number;
}

const DAY_MS = 86_400_000;

/**
 * The client certificates of `outputs` (devo_platform) that expire within `days` (default 30)
 * of `now`. A file that cannot be read or parsed is skipped: the configuration check reports it.
 */
export function expiringCertificates(
  outputs: readonly OutputConfig[],
  options: { now?: Date; days?: number; read?: (path: string) => string } = {},
): ExpiringCertificate[] {
  const now = (options.now ?? new Date()).getTime();
  const days = options.days ?? 30;
  const read = options.read ?? ((p: string) => Deno.readTextFileSync(p));
  const out: ExpiringCertificate[] = [];
  for (const o of outputs) {
    if (o.type !== "devo_platform" || !o.cert) continue;
    let cert: X509Certificate;
    try {
      const pem = read(o.cert).match(
        /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/,
      )?.[0];
      if (!pem) continue;
      cert = new X509Certificate(pem);
    } catch {
      continue;
    }
    const notAfter = new Date(cert.validTo);
    const left = notAfter.getTime() - now;
    if (left < days * DAY_MS) {
      out.push({
        output: o.name,
        path: o.cert,
        subject: cert.subject.replace(/\n/g, ", "),
        notAfter,
        daysLeft: Math.floor(left / DAY_MS),
      });
    }
  }
  return out;
}
