/**
 * The PBS backend in the Torque flavour on the real TORQUE 6.1.3 of test/services/torque-up.sh
 * (daemons in the network namespace lrms-torque), over SSH as the test user lrmspw (the local-transport suites run as lrmskey at the same
 * time, and the status checks count their user's jobs), its commands
 * by full path (`/usr/bin/qsub` is Grid Engine's): the contract suite and the real-scheduler
 * checks (exit 3, signal 9, a walltime kill, cancel while queued and running, a request over the
 * queue's limits, usage as `qstat -f` reports it (finished jobs are kept 5 minutes), 50 jobs in one `qstat`).
 */
import * as Layer from "effect/Layer"
import * as Pbs from "../backends/pbs/Pbs.ts"
import * as PbsParse from "../backends/pbs/PbsParse.ts"
import { suite } from "./contract/LrmsContract.ts"
import { checks } from "./_real_batch.ts"
import { torque, torqueTest } from "./_torque.ts"
import { pwAuth, sshd, transport } from "./_sshd.ts"

const bin = torque?.bin ?? "/opt/torque/bin"

/** A Torque resource on the test server, its commands by full path. */
export const config = (spooldir: string, maxCores: number): Pbs.PbsConfigInput => ({
  name: "torque-test",
  flavour: "torque",
  architecture: ["x86_64", "aarch64"],
  maxCores,
  maxCoresPerJob: maxCores,
  maxMemoryPerCore: "1 TiB",
  maxWalltime: "1 day",
  accountingDelay: "30 seconds",
  spooldir,
  commands: Object.fromEntries(
    ["qsub", "qstat", "tracejob", "qdel", "pbsnodes"].map((c) => [c, `${bin}/${c}`]),
  ),
})

const denoTest = { ...torqueTest, ignore: torqueTest.ignore || sshd === undefined }
const remoteSpool = (dir: string) => `~/.effect-lrms-test/${dir.split("/").pop()}/spool`

suite("pbs(torque)+ssh", {
  makeLayer: ({ dir, maxCores }) =>
    Pbs.layer(config(remoteSpool(dir), maxCores)).pipe(Layer.provide(transport())),
  auth: pwAuth,
  sharedResource: true,
  timeout: "120 seconds",
  denoTest,
})

/** What `qstat -f` itself says of a finished job (read here with a regex, not the parser). */
const qstatUsage = async (id: string) => {
  const r = await new Deno.Command(`${bin}/qstat`, { args: ["-f", id], stdout: "piped" })
    .output()
  const text = new TextDecoder().decode(r.stdout)
  const seconds = (key: string) => {
    const v = new RegExp(`${key.replace(".", "\\.")} = (\\d+):(\\d\\d):(\\d\\d)`).exec(text)
    if (v === null) throw new Error(`no ${key} in qstat -f ${id}:\n${text}`)
    return Number(v[1]) * 3600 + Number(v[2]) * 60 + Number(v[3])
  }
  return { walltime: seconds("resources_used.walltime"), cpu: seconds("resources_used.cput") }
}

checks({
  name: "pbs(torque)+ssh",
  denoTest,
  makeLayer: (dir, t) => Pbs.layer(config(remoteSpool(dir), 64)).pipe(Layer.provide(t)),
  transport: () => transport(),
  auth: pwAuth,
  statCommand: "qstat",
  walltime: "5 seconds",
  nodeCores: torque?.np ?? 8,
  usageOf: (id) => qstatUsage(PbsParse.sequenceOf(id)),
})
