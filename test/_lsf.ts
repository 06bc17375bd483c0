/**
 * The test LSF (OpenLava 3.3.3) started by `test/services/lsf-up.sh`: its facts, read from its
 * env file. When it is down (or was skipped: no OpenLava source), `lsf` is `undefined` and the
 * OpenLava tests are registered as ignored with the reason printed once.
 */
import { probe, readEnvFile, serverTest } from "./_service.ts"

/** What lsf-up.sh writes to its env file (the parts the tests use). */
export interface LsfFacts {
  /** `LRMS_LSF_VERSION`: `3.3.3`. */
  readonly version: string
  /** `LRMS_LSF_BIN`: the real binaries (also symlinked into `/usr/local/bin`). */
  readonly bin: string
  /** `LRMS_LSF_ENVDIR`: what `LSF_ENVDIR` would be (`/etc/lsf.conf` links into it). */
  readonly envdir: string
  /** `LRMS_LSF_HOST`: the host the jobs run on, as `bjobs` names it (`vm`). */
  readonly host: string
  /** `LRMS_LSF_QUEUE`: the default (and only) queue, `normal`. */
  readonly queue: string
  /** `LRMS_LSF_SLOTS`: job slots of the host (MXJ, also the queue's PROCLIMIT). */
  readonly slots: number
  /** `LRMS_LSF_MEM`: the host's memory as `lshosts` prints it (`24105M`). */
  readonly mem: string
  /** The same in MB (0 when `LRMS_LSF_MEM` has another unit). */
  readonly memoryMb: number
  /** `LRMS_LSF_USERS`: the users that may submit (`lrmskey`, `lrmspw`; root may not). */
  readonly users: ReadonlyArray<string>
  /** `LRMS_LSF_TERMINATE_INTERVAL`: seconds between the SIGINT, SIGTERM, SIGKILL of a bkill. */
  readonly terminateIntervalS: number
  /** `LRMS_LSF_DIR`: the state dir. */
  readonly dir: string
}

const dir = Deno.env.get("LRMS_LSF_DIR") ?? "/tmp/effect-lrms-lsf"

const load = (): LsfFacts | string => {
  const env = readEnvFile(`${dir}/env`, "lsf-up.sh")
  if (typeof env === "string") return `no test OpenLava: ${env}`
  const get = (k: string) => env.get(k) ?? ""
  const bin = get("LRMS_LSF_BIN") || "/opt/openlava-3.3.3/bin"
  // the cluster must also answer (a client retries without end while lim is down: hence timeout)
  const id = probe("timeout", ["10", `${bin}/lsid`])
  if (!id.ok || !id.said.includes("My master name is")) {
    return `the test OpenLava of ${dir}/env does not answer: lsid says ${id.said || "nothing"}`
  }
  const mem = get("LRMS_LSF_MEM")
  return {
    version: get("LRMS_LSF_VERSION"),
    bin,
    envdir: get("LRMS_LSF_ENVDIR"),
    host: get("LRMS_LSF_HOST"),
    queue: get("LRMS_LSF_QUEUE") || "normal",
    slots: Number(get("LRMS_LSF_SLOTS")) || 1,
    mem,
    memoryMb: /^\d+M$/.test(mem) ? Number(mem.slice(0, -1)) : 0,
    users: get("LRMS_LSF_USERS").split(/\s+/).filter((u) => u !== ""),
    terminateIntervalS: Number(get("LRMS_LSF_TERMINATE_INTERVAL")) || 10,
    dir,
  }
}

const loaded = load()

/** The running test OpenLava, or `undefined`. */
export const lsf: LsfFacts | undefined = typeof loaded === "string" ? undefined : loaded

/** Deno test options shared by the OpenLava tests. */
export const lsfTest = serverTest("OpenLava", typeof loaded === "string" ? loaded : undefined)
