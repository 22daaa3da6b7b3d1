/**
 * Test certificates for mutual TLS, generated with `openssl` at test time: a CA, a server
 * certificate for `localhost`, a client certificate, and a rogue CA with its own client
 * certificate for rejection tests. All are X.509 v3 with EC P-256 keys in PKCS#8 PEM.
 * @module
 */
import { join } from "node:path";
import { tlsConnector } from "../../src/output/connectors.ts";
import type { Connector } from "../../src/output/connectors.ts";

/** PEM contents and file paths of one set of test certificates; remove them with `cleanup()`. */
export interface TestCerts {
  /** Directory holding the PEM files. */
  readonly dir: string;
  /** PEM of the test CA certificate (trusted by the receivers and by the collector). */
  readonly caCert: string;
  readonly caCertPath: string;
  /** PEM of the server certificate (CN and SAN `localhost`, SAN IP `127.0.0.1`). */
  readonly serverCert: string;
  /** PEM (PKCS#8) of the server private key. */
  readonly serverKey: string;
  readonly serverCertPath: string;
  readonly serverKeyPath: string;
  /** PEM of the client certificate (CN `seclake-test-client`), signed by the test CA. */
  readonly clientCert: string;
  /** PEM (PKCS#8) of the client private key. */
  readonly clientKey: string;
  readonly clientCertPath: string;
  readonly clientKeyPath: string;
  /** PEM of a second, untrusted CA; a client that trusts only it rejects the server. */
  readonly rogueCaCert: string;
  readonly rogueCaCertPath: string;
  /** PEM of a client certificate with the same CN, signed by the rogue CA: receivers reject it. */
  readonly rogueClientCert: string;
  /** PEM (PKCS#8) of the rogue client private key. */
  readonly rogueClientKey: string;
  readonly rogueClientCertPath: string;
  readonly rogueClientKeyPath: string;
  /** Removes the files this call wrote (and the directory when this call created it). */
  cleanup(): Promise<void>;
}

/** The common name the client certificates carry; rsyslog's `PermittedPeer` names it. */
export const CLIENT_CN = "seclake-test-client";

const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = DNS:${CLIENT_CN}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

/** File name → PEM text, in the order they are written. */
type PemSet = Record<typeof FILES[number], string>;

const FILES = [
  "ca.pem",
  "server.pem",
  "server.key",
  "client.pem",
  "client.key",
  "rogue-ca.pem",
  "rogue-client.pem",
  "rogue-client.key",
] as const;

let cached: Promise<PemSet> | undefined;

function newCert(
  ext: string,
  cn: string,
  out: string,
  issuer?: { cert: string; key: string },
): string[] {
  const args = [
    "req",
    "-x509",
    "-config",
    "openssl.cnf",
    "-extensions",
    ext,
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${out}.key`,
    "-out",
    `${out}.pem`,
    "-subj",
    `/CN=${cn}`,
    "-days",
    "30",
  ];
  if (issuer) args.push("-CA", issuer.cert, "-CAkey", issuer.key);
  return args;
}

async function generate(): Promise<PemSet> {
  const work = await Deno.makeTempDir({ prefix: "seclake-certgen-" });
  try {
    await Deno.writeTextFile(join(work, "openssl.cnf"), OPENSSL_CONFIG);
    await Promise.all([
      opensslQuiet(work, newCert("ca_ext", "seclake-test-ca", "ca")),
      opensslQuiet(work, newCert("ca_ext", "seclake-rogue-ca", "rogue-ca")),
    ]);
    const ca = { cert: "ca.pem", key: "ca.key" };
    await Promise.all([
      opensslQuiet(work, newCert("server_ext", "localhost", "server", ca)),
      opensslQuiet(work, newCert("client_ext", CLIENT_CN, "client", ca)),
      opensslQuiet(
        work,
        newCert("client_ext", CLIENT_CN, "rogue-client", {
          cert: "rogue-ca.pem",
          key: "rogue-ca.key",
        }),
      ),
    ]);
    const entries = await Promise.all(
      FILES.map(async (name) => [name, await Deno.readTextFile(join(work, name))] as const),
    );
    return Object.fromEntries(entries) as PemSet;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/**
 * Returns a set of test certificates written as PEM files into `dir` (created if missing) or,
 * by default, into a fresh temporary directory. The certificates are generated with a handful
 * of one-shot `openssl req -x509` commands once per process and then only written out, so each
 * call is fast and returns its own files; the CA private keys are never written. Rejects with
 * an error carrying openssl's message when generation fails. Call `cleanup()` when done.
 */
export async function makeCerts(dir?: string): Promise<TestCerts> {
  cached ??= generate();
  let pems: PemSet;
  try {
    pems = await cached;
  } catch (e) {
    cached = undefined;
    throw e;
  }
  const created = dir === undefined;
  const target = dir ?? await Deno.makeTempDir({ prefix: "seclake-certs-" });
  if (!created) await Deno.mkdir(target, { recursive: true });
  for (const name of FILES) {
    await Deno.writeTextFile(join(target, name), pems[name], { mode: 0o600 });
  }
  const path = (name: typeof FILES[number]) => join(target, name);
  return {
    dir: target,
    caCert: pems["ca.pem"],
    caCertPath: path("ca.pem"),
    serverCert: pems["server.pem"],
    serverKey: pems["server.key"],
    serverCertPath: path("server.pem"),
    serverKeyPath: path("server.key"),
    clientCert: pems["client.pem"],
    clientKey: pems["client.key"],
    clientCertPath: path("client.pem"),
    clientKeyPath: path("client.key"),
    rogueCaCert: pems["rogue-ca.pem"],
    rogueCaCertPath: path("rogue-ca.pem"),
    rogueClientCert: pems["rogue-client.pem"],
    rogueClientKey: pems["rogue-client.key"],
    rogueClientCertPath: path("rogue-client.pem"),
    rogueClientKeyPath: path("rogue-client.key"),
    cleanup: async () => {
      if (created) {
        await Deno.remove(target, { recursive: true }).catch(() => {});
      } else {
        for (const name of FILES) await Deno.remove(path(name)).catch(() => {});
      }
    },
  };
}

/**
 * A mutual-TLS connector to `localhost:port` that trusts the test CA and presents the test client
 * certificate (or, with `rogue`, the one the receivers reject).
 */
export function testConnector(certs: TestCerts, port: number, rogue = false): Connector {
  return tlsConnector({
    address: "localhost",
    port,
    caCert: certs.caCert,
    cert: rogue ? certs.rogueClientCert : certs.clientCert,
    key: rogue ? certs.rogueClientKey : certs.clientKey,
    connectTimeoutSeconds: 5,
  });
}

/** Runs `openssl ARGS` in `cwd`, quiet unless it fails (then its standard error is thrown). */
export async function opensslQuiet(cwd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Writes `dir/name.pem` and `dir/name.key`: a certificate with its own key, signed by a throwaway
 * CA, valid from `start` to `end` (in the past or the future, which `openssl req -x509` cannot do).
 */
export async function certWithDates(
  dir: string,
  name: string,
  start: Date,
  end: Date,
): Promise<void> {
  const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  const ca = join(dir, `${name}-ca`);
  await Deno.mkdir(ca, { recursive: true });
  await Deno.writeTextFile(join(ca, "index.txt"), "");
  await Deno.writeTextFile(join(ca, "serial"), "01\n");
  await Deno.writeTextFile(
    join(ca, "ca.cnf"),
    "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n" +
      "default_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n",
  );
  await ecCa(ca, "t");
  await ecRequest(ca, `../${name}.key`, "c.csr", name);
  await opensslQuiet(ca, [
    "ca",
    "-batch",
    "-config",
    "ca.cnf",
    "-cert",
    "ca.pem",
    "-keyfile",
    "ca.key",
    "-in",
    "c.csr",
    "-out",
    `../${name}.pem`,
    "-notext",
    "-startdate",
    stamp(start),
    "-enddate",
    stamp(end),
  ]);
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** Writes `cwd/ca.key` and `cwd/ca.pem`: a throwaway self-signed CA, common name `cn`. */
export async function ecCa(cwd: string, cn: string): Promise<void> {
  await opensslQuiet(cwd, [
    "req",
    "-x509",
    ...EC_KEY,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-subj",
    `/CN=${cn}`,
  ]);
}

/** Writes a new P-256 key to `cwd/keyOut` and its signing request to `cwd/csrOut`. */
export async function ecRequest(
  cwd: string,
  keyOut: string,
  csrOut: string,
  cn: string,
): Promise<void> {
  await opensslQuiet(cwd, [
    "req",
    "-new",
    ...EC_KEY,
    "-keyout",
    keyOut,
    "-out",
    csrOut,
    "-subj",
    `/CN=${cn}`,
  ]);
}
