/**
 * The test Grid Engine started by `test/services/sge-up.sh`: its facts, read from its env file.
 * When it is down, the Grid Engine tests are registered as ignored with the reason printed once.
 */
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Sge from "../backends/sge/Sge.ts"
import type { Lrms } from "../src/Lrms.ts"
import type { LrmsError } from "../src/LrmsError.ts"
import type { Platform } from "./_effect.ts"
import { probe, readEnvFile, serverTest } from "./_service.ts"

/** What sge-up.sh writes to its env file (the parts the tests use). */
export interface SgeFacts {
  readonly pe: string
  /** A parallel environment of 2 slots per host (`allocation_rule 2`), if the cell has one. */
  readonly mpiPe: string | undefined
  /** The GPU consumable (per slot) and how many GPUs the host offers, if the cell has them. */
  readonly gpu: { readonly resource: string; readonly count: number } | undefined
  /** The exclusive-host complex, if the cell has one. */
  readonly exclusiveResource: string | undefined
  readonly slots: number
  readonly queue: string
}

const dir = Deno.env.get("LRMS_SGE_DIR") ?? "/tmp/effect-lrms-sge"

const load = (): SgeFacts | string => {
  const env = readEnvFile(`${dir}/env`, "sge-up.sh")
  if (typeof env === "string") return `no test Grid Engine: ${env}`
  const q = probe("qstat", ["-f"])
  if (!q.ok) return `the test Grid Engine of ${dir}/env does not answer: qstat -f says ${q.said}`
  return {
    pe: env.get("LRMS_SGE_PE") || "smp",
    mpiPe: env.get("LRMS_SGE_MPI_PE") || undefined,
    gpu: env.get("LRMS_SGE_GPU_RESOURCE")
      ? { resource: env.get("LRMS_SGE_GPU_RESOURCE")!, count: Number(env.get("LRMS_SGE_GPUS")) }
      : undefined,
    exclusiveResource: env.get("LRMS_SGE_EXCLUSIVE_RESOURCE") || undefined,
    slots: Number(env.get("LRMS_SGE_SLOTS")) || 1,
    queue: env.get("LRMS_SGE_QUEUE") || "all.q",
  }
}

const loaded = load()

/** The running test Grid Engine, or `undefined`. */
export const sge: SgeFacts | undefined = typeof loaded === "string" ? undefined : loaded

/** Deno test options shared by the Grid Engine tests. */
export const sgeTest = serverTest("Grid Engine", typeof loaded === "string" ? loaded : undefined)

/** A Grid Engine resource for the tests. */
export const config = (
  extra: Partial<Sge.SgeConfigInput> & { readonly spooldir: string },
): Sge.SgeConfigInput => ({
  name: "sge-test",
  architecture: ["x86_64", "aarch64"],
  maxCores: 64,
  maxCoresPerJob: 64,
  maxMemoryPerCore: "1 TiB",
  maxWalltime: "1 day",
  accountingDelay: "30 seconds",
  defaultPe: sge?.pe ?? "smp",
  ...extra,
})

/** Grid Engine over the local transport. */
export const localLayer = (
  extra: Partial<Sge.SgeConfigInput> & { readonly spooldir: string },
): Layer.Layer<Lrms, LrmsError, Platform> =>
  Sge.layer(config(extra)).pipe(Layer.provide(LocalTransport.layer))
