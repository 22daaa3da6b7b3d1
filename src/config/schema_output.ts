/**
 * The schema of one output (`outputs.<name>`): its type, and the settings of its connection,
 * certificates, batches and retries. Part of the schema table (`schema.ts`).
 * @module
 */
import { choice, GiB, int, KiB, MiB, obj, str } from "./spec.ts";
import { ADDRESS } from "./forms.ts";

/** One output's schema. */
export const output = obj("One output. Its key names it in logs and metrics.", {
  type: choice(
    "devo_platform: Devo over mutual TLS; relay: plain TCP syslog to a relay; console: one line per event on standard output.",
    ["devo_platform", "relay", "console"],
    { required: true, example: "devo_platform" },
  ),
  config: obj("Settings of this output.", {
    address: str("Host name or IP address of the receiver (devo_platform, relay).", {
      pattern: ADDRESS,
      example: "collector-eu.devo.io",
    }),
    port: int("TCP port of the receiver (devo_platform, relay).", {
      min: 1,
      max: 65535,
      example: "443",
    }),
    chain: str(
      "PEM file with the CA chain that signs the receiver's certificate (Devo's chain.crt).",
      { example: "certs/chain.crt" },
    ),
    cert: str("PEM file with the client certificate (the Devo domain's certificate).", {
      example: "certs/domain.crt",
    }),
    key: str(
      "PEM file with the client certificate's private key, unencrypted; its contents are never shown.",
      { example: "certs/domain.key" },
    ),
    hostname: str("Host name written in each syslog header; absent means this machine's name.", {
      example: "seclake-1.example.com",
      exampleOnly: true,
    }),
    connect_timeout_seconds: int("Time allowed to open a connection and finish the handshake.", {
      default: 15,
      unit: "seconds",
      min: 1,
      max: 300,
    }),
    confirm_timeout_seconds: int(
      "Time allowed for the receiver to confirm a batch by closing its side after ours.",
      { default: 30, unit: "seconds", min: 1, max: 600 },
    ),
    max_batch_bytes: int(
      "Bytes written per connection (one batch) before delivery is confirmed: the commit size.",
      { default: 8 * MiB, unit: "bytes", min: 1 * KiB, max: 1 * GiB },
    ),
    batches_in_flight: int(
      "Batches sent before the oldest is confirmed: 2 writes the next batch while the one before is confirmed, so the output does not wait for each confirmation; 1 waits, and a crash or a receiver outage then repeats at most one batch instead of two.",
      { default: 2, min: 1, max: 2 },
    ),
    commit_interval_seconds: int(
      "Longest time a batch waits for more events before it is committed (sent and confirmed).",
      { default: 2, unit: "seconds", min: 1, max: 300 },
    ),
    retries: int("Attempts to deliver one batch before the objects in it are failed.", {
      default: 5,
      min: 1,
      max: 100,
    }),
    senders: int("Connections used in parallel (devo_platform, relay).", {
      default: 1,
      min: 1,
      max: 16,
    }),
  }),
}, {
  relations: [
    {
      kind: "requiredFor",
      fields: ["config.address", "config.port", "config.chain", "config.cert", "config.key"],
      when: { key: "type", is: ["devo_platform"] },
      label: "output type",
    },
    {
      kind: "requiredFor",
      fields: ["config.address", "config.port"],
      when: { key: "type", is: ["relay"] },
      label: "output type",
    },
  ],
});
