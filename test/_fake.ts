/**
 * The scripted PBS and LSF schedulers of test/fake/: configurations that point every command of
 * the PBS and LSF backends at them (absolute paths, so the SSH user runs them too).
 */
import type * as Lsf from "../backends/lsf/Lsf.ts"
import type * as Pbs from "../backends/pbs/Pbs.ts"

const bin = (scheduler: string, command: string) =>
  new URL(`./fake/${scheduler}/bin/${command}`, import.meta.url).pathname

const base = (spooldir: string, maxCores: number) => ({
  name: "fake",
  architecture: ["x86_64", "aarch64"] as const,
  maxCores,
  maxCoresPerJob: maxCores,
  maxMemoryPerCore: "1 TiB",
  maxWalltime: "1 day",
  accountingDelay: "20 seconds",
  spooldir,
  // the scripted schedulers have no job arrays: every job is submitted alone
  arrays: false,
})

/** A PBS resource whose commands are the scripted Torque of test/fake/pbs. */
export const pbsConfig = (spooldir: string, maxCores = 8): Pbs.PbsConfigInput => ({
  ...base(spooldir, maxCores),
  architecture: ["x86_64", "aarch64"],
  commands: Object.fromEntries(
    ["qsub", "qstat", "tracejob", "qdel", "pbsnodes"].map((c) => [c, bin("pbs", c)]),
  ),
})

/** An LSF resource whose commands are the scripted LSF of test/fake/lsf. */
export const lsfConfig = (spooldir: string, maxCores = 8): Lsf.LsfConfigInput => ({
  ...base(spooldir, maxCores),
  architecture: ["x86_64", "aarch64"],
  commands: Object.fromEntries(
    ["bsub", "bjobs", "bacct", "bkill", "lshosts"].map((c) => [c, bin("lsf", c)]),
  ),
})
