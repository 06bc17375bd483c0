/**
 * The test SLURM started by `test/services/slurm-up.sh`: its facts, read from its env file, and
 * the layers the SLURM tests use. When it is down, `slurm` is `undefined` and the SLURM tests
 * are registered as ignored with the reason printed once.
 */
import * as Layer from "effect/Layer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Slurm from "../backends/slurm/Slurm.ts"
import type { Lrms } from "../src/Lrms.ts"
import type { LrmsError } from "../src/LrmsError.ts"
import type { Platform } from "./_effect.ts"
import { probe, readEnvFile, serverTest } from "./_service.ts"

/** What slurm-up.sh writes to its env file (the parts the tests use). */
export interface SlurmFacts {
  readonly dir: string
  readonly partition: string
  readonly node: string
  readonly cpus: number
  readonly memoryMb: number
  readonly oomState: string
  /** GPUs the node declares (GRES gpu backed by stand-in devices; 0 on an older cluster). */
  readonly gpus: number
  /** `MaxArraySize` of slurm.conf. */
  readonly maxArraySize: number
  /** The partition whose jobs preempt the default partition's, if any. */
  readonly preemptPartition: string | undefined
}

const dir = Deno.env.get("LRMS_SLURM_DIR") ?? "/tmp/effect-lrms-slurm"

const load = (): SlurmFacts | string => {
  const env = readEnvFile(`${dir}/env`, "slurm-up.sh")
  if (typeof env === "string") return `no test SLURM: ${env}`
  const get = (k: string) => env.get(k) ?? ""
  // the controller must also answer: a stale env file from a stopped cluster does not count
  const ping = probe("scontrol", ["ping"])
  if (!ping.ok || !ping.said.includes("UP")) {
    return `the test SLURM of ${dir}/env does not answer: scontrol ping says ${ping.said}`
  }
  return {
    dir,
    partition: get("LRMS_SLURM_PARTITION") || "debug",
    node: get("LRMS_SLURM_NODE"),
    cpus: Number(get("LRMS_SLURM_NODE_CPUS")) || 1,
    memoryMb: Number(get("LRMS_SLURM_NODE_MEMORY_MB")) || 0,
    oomState: get("LRMS_SLURM_OOM_STATE"),
    gpus: Number(get("LRMS_SLURM_NODE_GPUS")) || 0,
    maxArraySize: Number(get("LRMS_SLURM_MAX_ARRAY_SIZE")) || 1001,
    preemptPartition: get("LRMS_SLURM_PREEMPT_PARTITION") || undefined,
  }
}

const loaded = load()

/** The running test SLURM, or `undefined`. */
export const slurm: SlurmFacts | undefined = typeof loaded === "string" ? undefined : loaded

/** Deno test options shared by the SLURM tests. */
export const slurmTest = serverTest("SLURM", typeof loaded === "string" ? loaded : undefined)

/** A SLURM resource for the tests (limits wide enough for SLURM itself to refuse). */
export const config = (
  extra: Partial<Slurm.SlurmConfigInput> & { readonly spooldir: string },
): Slurm.SlurmConfigInput => ({
  name: "slurm-test",
  architecture: ["x86_64", "aarch64"],
  maxCores: 64,
  maxCoresPerJob: 64,
  maxMemoryPerCore: "1 TiB",
  maxWalltime: "1 day",
  accountingDelay: "20 seconds",
  ...extra,
})

/** SLURM over the local transport. */
export const localLayer = (
  extra: Partial<Slurm.SlurmConfigInput> & { readonly spooldir: string },
): Layer.Layer<Lrms, LrmsError, Platform> =>
  Slurm.layer(config(extra)).pipe(Layer.provide(LocalTransport.layer))

/** Runs a command of test/services/slurm-ctl.sh (stop-ctld, start-ctld). */
export const slurmCtl = (what: "stop-ctld" | "start-ctld"): void => {
  const out = new Deno.Command("bash", {
    args: [new URL("./services/slurm-ctl.sh", import.meta.url).pathname, what],
    env: { LRMS_SLURM_DIR: dir },
  }).outputSync()
  if (!out.success) {
    throw new Error(`slurm-ctl.sh ${what} failed: ${new TextDecoder().decode(out.stderr)}`)
  }
}
