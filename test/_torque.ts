/**
 * The test TORQUE started by `test/services/torque-up.sh`: its facts, read from its env file.
 * When it is down, the TORQUE tests are registered as ignored with the reason printed once.
 *
 * Its clients are not on the PATH (`/usr/bin/qsub` is Grid Engine's): call them by full path,
 * `${torque.bin}/qsub`. The server runs in the network namespace `lrms-torque`; the clients on the
 * host reach it through the host's trqauthd.
 */
import { probe, readEnvFile, serverTest } from "./_service.ts"

/** What torque-up.sh writes to its env file (the parts the tests use). */
export interface TorqueFacts {
  readonly dir: string
  /** Where qsub, qstat, qdel, pbsnodes, tracejob are (`/opt/torque/bin`). */
  readonly bin: string
  /** `6.1.3.h5` */
  readonly version: string
  /** The server's name, also the job ids' suffix (`1.torque-node`). */
  readonly server: string
  /** The one execution node. */
  readonly node: string
  /** The default queue. */
  readonly queue: string
  /** The node's np (slots): more than its CPUs, so sleeping jobs run side by side. */
  readonly np: number
  /** The CPUs the MOM reports (`ncpus`). */
  readonly cpus: number
  /** The MOM's `physmem` in KiB. */
  readonly memoryKb: number
  /** The queue's `resources_default.walltime` and `resources_max.walltime` (`HH:MM:SS`). */
  readonly defaultWalltime: string
  readonly maxWalltime: string
  /** Seconds a completed job stays in `qstat -f` (state `C`). */
  readonly keepCompleted: number
  /** The users that may submit (`lrmskey`, `lrmspw`: the SSH test users). */
  readonly users: ReadonlyArray<string>
  /** The host as the jobs' `PBS_O_HOST` / `submit_host` name it. */
  readonly submitHost: string
  /** The host in the jobs' `Job_Owner` (`lrmskey@torque-client`). */
  readonly ownerHost: string
}

const dir = Deno.env.get("LRMS_TORQUE_DIR") ?? "/tmp/effect-lrms-torque"

const load = (): TorqueFacts | string => {
  const env = readEnvFile(`${dir}/env`, "torque-up.sh")
  if (typeof env === "string") return `no test TORQUE: ${env}`
  const get = (k: string) => env.get(k) ?? ""
  const bin = get("LRMS_TORQUE_BIN") || "/opt/torque/bin"
  // the server must also answer: a stale env file from a stopped cluster does not count
  const q = probe("timeout", ["10", `${bin}/qstat`, "-B"])
  if (!q.ok) return `the test TORQUE of ${dir}/env does not answer: qstat -B says ${q.said}`
  return {
    dir,
    bin,
    version: get("LRMS_TORQUE_VERSION"),
    server: get("LRMS_TORQUE_SERVER") || "torque-node",
    node: get("LRMS_TORQUE_NODE") || "torque-node",
    queue: get("LRMS_TORQUE_QUEUE") || "batch",
    np: Number(get("LRMS_TORQUE_NP")) || 1,
    cpus: Number(get("LRMS_TORQUE_NODE_CPUS")) || 1,
    memoryKb: Number(get("LRMS_TORQUE_NODE_MEMORY_KB")) || 0,
    defaultWalltime: get("LRMS_TORQUE_DEFAULT_WALLTIME"),
    maxWalltime: get("LRMS_TORQUE_MAX_WALLTIME"),
    keepCompleted: Number(get("LRMS_TORQUE_KEEP_COMPLETED")) || 0,
    users: get("LRMS_TORQUE_USERS").split(" ").filter((u) => u !== ""),
    submitHost: get("LRMS_TORQUE_SUBMIT_HOST"),
    ownerHost: get("LRMS_TORQUE_OWNER_HOST"),
  }
}

const loaded = load()

/** The running test TORQUE, or `undefined`. */
export const torque: TorqueFacts | undefined = typeof loaded === "string" ? undefined : loaded

/** Deno test options shared by the TORQUE tests. */
export const torqueTest = serverTest("TORQUE", typeof loaded === "string" ? loaded : undefined)
