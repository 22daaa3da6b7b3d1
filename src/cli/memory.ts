/**
 * The memory budget of a run, as `seclake run` and `seclake backfill` apply it: the limit in
 * force (`pipeline/memory_budget.ts`), the plan for it, and the outputs' settings within it.
 * @module
 */
import type { Config, OutputConfig } from "../config/types.ts";
import { budgetPlan, memoryLimitInForce } from "../pipeline/memory_budget.ts";
import type { BudgetKnobs, MemoryLimit } from "../pipeline/memory_budget.ts";
import { guardMemory } from "../pipeline/memory_guard.ts";
import type { MemoryGuard } from "../pipeline/memory_guard.ts";
import type { Telemetry } from "../telemetry/events.ts";

/** The memory limit in force for `config` and the plan within it. */
export interface MemoryPlan {
  readonly limit: MemoryLimit;
  readonly knobs: BudgetKnobs;
}

/** The limit in force for `config` and the knobs within it. */
export function memoryPlan(config: Config): MemoryPlan {
  const limit = memoryLimitInForce(config.globals.memory_limit);
  const knobs = budgetPlan(limit.bytes, {
    decodeThreads: Math.min(config.globals.decode_threads, navigator.hardwareConcurrency || 1),
    outputs: config.outputs.map((o) => ({
      maxBatchBytes: o.max_batch_bytes,
      batchesInFlight: o.batches_in_flight === 1 ? 1 : 2,
      senders: o.senders,
    })),
  });
  return { limit, knobs };
}

/** Logs the limit in force and the plan (`memory_limit` event). */
export function logMemoryPlan(plan: MemoryPlan, telemetry: Telemetry): void {
  const k = plan.knobs;
  const bytes = (n: number | undefined) => n === undefined ? "none" : `${n} bytes`;
  telemetry.emit("memory_limit", {
    limit: bytes(plan.limit.bytes),
    limit_bytes: plan.limit.bytes ?? null,
    source: plan.limit.source,
    cgroup: bytes(plan.limit.cgroupBytes),
    cgroup_bytes: plan.limit.cgroupBytes ?? null,
    decode_threads: k.decodeThreads,
    read_ahead_bytes: k.readAheadBytes,
    ahead_bytes: k.aheadBytes,
    group_read_bytes: k.groupReadBytes,
    batches_in_flight: k.batchesInFlight,
    max_batch_bytes: k.maxBatchBytes,
    row_group: k.rowGroupBytes === undefined ? "any size" : `at most ${k.rowGroupBytes} bytes`,
    row_group_bytes: k.rowGroupBytes ?? null,
  });
}

/**
 * Under a limit, the guard that collects the main thread's garbage as the process nears it
 * (`pipeline/memory_guard.ts`); stop it when the run ends.
 */
export function startMemoryGuard(plan: MemoryPlan): MemoryGuard | undefined {
  return plan.limit.bytes === undefined ? undefined : guardMemory(plan.limit.bytes);
}

/** `o` with its batch size and batches in flight kept within the plan. */
export function budgetedOutput(o: OutputConfig, knobs: BudgetKnobs): OutputConfig {
  return {
    ...o,
    max_batch_bytes: Math.min(o.max_batch_bytes, knobs.maxBatchBytes),
    batches_in_flight: Math.min(o.batches_in_flight, knobs.batchesInFlight),
  };
}
