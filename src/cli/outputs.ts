/**
 * Builds the configured outputs.
 * @module
 */
import type { OutputConfig } from "../config/types.ts";
import { ConfirmedStreamOutput } from "../output/confirmed_stream.ts";
import { ConsoleOutput } from "../output/console.ts";
import { tcpConnector, tlsConnector } from "../output/connectors.ts";
import { trustWidenings } from "../output/tls_trust.ts";
import type { TrustWidening } from "../output/tls_trust.ts";
import type { Config } from "../config/types.ts";
import { env } from "../env.ts";
import type { EventOutput } from "../pipeline/ports.ts";

/**
 * Creates one output from its configuration; certificate files are read here. `widenings` is
 * what the runtime would trust beside `chain` (a Devo output then refuses to connect);
 * `onClosed` is called once when the reader of a console output's standard output went away.
 */
export async function createOutput(
  o: OutputConfig,
  widenings: readonly TrustWidening[] = [],
  onClosed?: () => void,
): Promise<EventOutput> {
  const stream = {
    name: o.name,
    maxBatchBytes: o.max_batch_bytes,
    batchesInFlight: o.batches_in_flight === 1 ? 1 as const : 2 as const,
    commitIntervalMs: o.commit_interval_seconds * 1000,
    confirmTimeoutMs: o.confirm_timeout_seconds * 1000,
    retries: o.retries,
  };
  switch (o.type) {
    case "console":
      return new ConsoleOutput(o.name, Deno.stdout, onClosed);
    case "relay":
      return new ConfirmedStreamOutput(
        tcpConnector({
          address: o.address!,
          port: o.port!,
          connectTimeoutSeconds: o.connect_timeout_seconds,
        }),
        stream,
      );
    case "devo_platform": {
      const [caCert, cert, key] = await Promise.all(
        [o.chain!, o.cert!, o.key!].map((p) => Deno.readTextFile(p)),
      );
      return new ConfirmedStreamOutput(
        tlsConnector({
          address: o.address!,
          port: o.port!,
          caCert: caCert!,
          cert: cert!,
          key: key!,
          connectTimeoutSeconds: o.connect_timeout_seconds,
          widenings,
        }),
        stream,
      );
    }
  }
}

/**
 * What the runtime would trust beside `chain` for the Devo outputs of `config` (nothing to ask
 * without one): the environment, and whether certificate checks are off.
 */
export async function devoTrustWidenings(config: Config): Promise<TrustWidening[]> {
  const devo = config.outputs.find((o) => o.type === "devo_platform");
  if (!devo) return [];
  const [cert, key] = await Promise.all([devo.cert!, devo.key!].map((p) => Deno.readTextFile(p)));
  return await trustWidenings(env, { cert: cert!, key: key! });
}
