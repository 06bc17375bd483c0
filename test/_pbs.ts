/**
 * The test OpenPBS started by `test/services/pbs-up.sh`: its facts, read from its env file. When
 * it is down (or was skipped for want of its source tarball), the OpenPBS tests are registered as
 * ignored with the reason printed once. The clients are called by full path (`bin`): the
 * `/usr/bin/qsub` of this machine is Grid Engine's.
 */
import { probe, readEnvFile, serverTest } from "./_service.ts"

/** What pbs-up.sh writes to its env file (the parts the tests use). */
export interface PbsFacts {
  /** Directory of the clients: `/opt/pbs/bin` (`qsub`, `qstat`, `qdel`, `pbsnodes`). */
  readonly bin: string
  /** The server (and node) name; job ids end in `.<server>`: `pbs-node`. */
  readonly server: string
  /** The default execution queue: `workq`. */
  readonly queue: string
  /** The node's `resources_available.ncpus` (8, more than the machine has). */
  readonly ncpus: number
  /** The node's `resources_available.mem` as PBS prints it, e.g. `24683568kb`. */
  readonly mem: string
  /** The users that may submit (root may not): `lrmskey`, `lrmspw`. */
  readonly users: ReadonlyArray<string>
  /** Whether `qstat -f -F json` works. */
  readonly json: boolean
}

const dir = Deno.env.get("LRMS_PBS_DIR") ?? "/tmp/effect-lrms-pbs"

const load = (): PbsFacts | string => {
  const env = readEnvFile(`${dir}/env`, "pbs-up.sh")
  if (typeof env === "string") return `no test OpenPBS: ${env}`
  const bin = env.get("LRMS_PBS_BIN") || "/opt/pbs/bin"
  // a PBS client may hang while the server is down: bounded
  const q = probe("timeout", ["10", `${bin}/qstat`, "-B"])
  if (!q.ok) {
    return `the test OpenPBS of ${dir}/env does not answer: qstat -B says ${q.said || "nothing"}`
  }
  return {
    bin,
    server: env.get("LRMS_PBS_SERVER") || "pbs-node",
    queue: env.get("LRMS_PBS_QUEUE") || "workq",
    ncpus: Number(env.get("LRMS_PBS_NCPUS")) || 1,
    mem: env.get("LRMS_PBS_MEM") ?? "",
    users: (env.get("LRMS_PBS_USERS") ?? "").split(/\s+/).filter((u) => u !== ""),
    json: env.get("LRMS_PBS_JSON") === "1",
  }
}

const loaded = load()

/** The running test OpenPBS, or `undefined`. */
export const pbs: PbsFacts | undefined = typeof loaded === "string" ? undefined : loaded

/** Deno test options shared by the OpenPBS tests. */
export const pbsTest = serverTest("OpenPBS", typeof loaded === "string" ? loaded : undefined)
