/**
 * Turns moto's IAM authentication on and off at run time, so a test can see AWS refuse
 * credentials. moto accepts any key by default; `POST /moto-api/reset-auth` with a number N makes
 * it authenticate every request after the next N (0: from now on), against the access keys of
 * its own IAM backend; `inf` turns authentication off again. Unknown keys then get
 * `InvalidClientTokenId` (HTTP 403) from STS. This is what `INITIAL_NO_AUTH_ACTION_COUNT` sets
 * at start-up, changed on a running server (moto 5).
 * @module
 */
import { motoFetch } from "./moto.ts";

async function resetAuth(endpoint: string, count: string): Promise<void> {
  const res = await motoFetch(endpoint, "/moto-api/reset-auth", { method: "POST", body: count });
  const text = await res.text();
  if (!res.ok) throw new Error(`moto reset-auth ${count} answered ${res.status}: ${text}`);
}

/**
 * Makes the moto server at `endpoint` authenticate every request from now on; returns a
 * function that turns authentication off again (call it in `finally`).
 */
export async function enableMotoAuth(endpoint: string): Promise<() => Promise<void>> {
  await resetAuth(endpoint, "0");
  return () => resetAuth(endpoint, "inf");
}
