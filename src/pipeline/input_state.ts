/**
 * An input's state store, in its own folder of the persistence directory: the one `seclake run`
 * and `seclake backfill` share, so an object completed either way is sent once.
 * @module
 */
import type { Config, InputConfig } from "../config/types.ts";
import { stateDirOf } from "../state/backfill_job.ts";
import { StateStore } from "../state/store.ts";
import type { Telemetry } from "../telemetry/events.ts";

/** Opens `input`'s state store; logs a reset (`reset_persistence_auth`) and corrupt files. */
export async function openInputState(
  config: Config,
  input: InputConfig,
  telemetry: Telemetry,
): Promise<StateStore> {
  const dir = stateDirOf(config, input);
  const { store, report } = await StateStore.open(dir, { resetAuth: input.reset_persistence_auth });
  if (report.reset) telemetry.emit("state_reset", { input: input.name });
  telemetry.corruptState(report.corrupt);
  return store;
}
