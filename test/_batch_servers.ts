/**
 * The resources the real-scheduler test files (pbs_ssh, torque_ssh, lsf_ssh, user/
 * local_schedulers) configure on the test servers, and what `qstat` itself says of a job.
 */
import type * as Lsf from "../backends/lsf/Lsf.ts"
import type * as Pbs from "../backends/pbs/Pbs.ts"

const common = {
  architecture: ["x86_64", "aarch64"],
  maxMemoryPerCore: "1 TiB",
  maxWalltime: "1 day",
  accountingDelay: "30 seconds",
}

/** A PBS resource of the given flavour, its commands by full path from `bin`. */
export const pbsConfig =
  (name: string, flavour: "pbspro" | "torque", bin: string) =>
  (spooldir: string, maxCores: number): Pbs.PbsConfigInput => ({
    ...common,
    name,
    flavour,
    maxCores,
    maxCoresPerJob: maxCores,
    spooldir,
    commands: Object.fromEntries(
      ["qsub", "qstat", "tracejob", "qdel", "pbsnodes"].map((c) => [c, `${bin}/${c}`]),
    ),
  })

/** The OpenLava resource (its commands on the PATH). */
export const openlavaConfig = (spooldir: string, maxCores: number): Lsf.LsfConfigInput => ({
  ...common,
  name: "openlava-test",
  flavour: "openlava",
  maxCores,
  maxCoresPerJob: maxCores,
  spooldir,
})

/** A spool directory in the SSH user's home, named after a local temporary directory. */
export const remoteSpool = (dir: string): string =>
  `~/.effect-lrms-test/${dir.split("/").pop()}/spool`

/**
 * What `qstat <args> <id>` itself says of a finished job's walltime and CPU time, in seconds
 * (read here with a regex, not the backend's parser).
 */
export const qstatUsage =
  (qstat: string, args: ReadonlyArray<string>) =>
  async (id: string): Promise<{ walltime: number; cpu: number }> => {
    const r = await new Deno.Command(qstat, { args: [...args, id], stdout: "piped" }).output()
    const text = new TextDecoder().decode(r.stdout)
    const seconds = (key: string) => {
      const v = new RegExp(`${key.replace(".", "\\.")} = (\\d+):(\\d\\d):(\\d\\d)`).exec(text)
      if (v === null) throw new Error(`no ${key} in qstat ${args.join(" ")} ${id}:\n${text}`)
      return Number(v[1]) * 3600 + Number(v[2]) * 60 + Number(v[3])
    }
    return { walltime: seconds("resources_used.walltime"), cpu: seconds("resources_used.cput") }
  }
