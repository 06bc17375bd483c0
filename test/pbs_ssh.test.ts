/**
 * The PBS backend in the PBS Pro flavour on the real OpenPBS 23.06.06 of test/services/pbs-up.sh
 * (daemons in the network namespace lrms-pbs), over SSH as the test user lrmspw (the local-transport suites run as lrmskey at the same
 * time, and the status checks count their user's jobs), its commands
 * by full path (`/usr/bin/qsub` is Grid Engine's): the contract suite and the real-scheduler
 * checks (exit 3, signal 9, a walltime kill, cancel while queued and running, a request over the
 * queue's limits, usage as `qstat -x -f` reports it, 50 jobs in one `qstat`).
 */
import * as Layer from "effect/Layer"
import * as Pbs from "../backends/pbs/Pbs.ts"
import * as PbsParse from "../backends/pbs/PbsParse.ts"
import { suite } from "./contract/LrmsContract.ts"
import { checks } from "./_real_batch.ts"
import { pbs, pbsTest } from "./_pbs.ts"
import { pwAuth, sshd, transport } from "./_sshd.ts"

const bin = pbs?.bin ?? "/opt/pbs/bin"

/** A PBS Pro resource on the test server, its commands by full path. */
export const config = (spooldir: string, maxCores: number): Pbs.PbsConfigInput => ({
  name: "openpbs-test",
  flavour: "pbspro",
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

const denoTest = { ...pbsTest, ignore: pbsTest.ignore || sshd === undefined }
const remoteSpool = (dir: string) => `~/.effect-lrms-test/${dir.split("/").pop()}/spool`

suite("pbs(pbspro)+ssh", {
  makeLayer: ({ dir, maxCores }) =>
    Pbs.layer(config(remoteSpool(dir), maxCores)).pipe(Layer.provide(transport())),
  auth: pwAuth,
  sharedResource: true,
  timeout: "120 seconds",
  denoTest,
})

/** What `qstat -x -f` itself says of a finished job (read here with a regex, not the parser). */
const qstatUsage = async (id: string) => {
  const r = await new Deno.Command(`${bin}/qstat`, { args: ["-x", "-f", id], stdout: "piped" })
    .output()
  const text = new TextDecoder().decode(r.stdout)
  const seconds = (key: string) => {
    const v = new RegExp(`${key.replace(".", "\\.")} = (\\d+):(\\d\\d):(\\d\\d)`).exec(text)
    if (v === null) throw new Error(`no ${key} in qstat -x -f ${id}:\n${text}`)
    return Number(v[1]) * 3600 + Number(v[2]) * 60 + Number(v[3])
  }
  return { walltime: seconds("resources_used.walltime"), cpu: seconds("resources_used.cput") }
}

checks({
  name: "pbs(pbspro)+ssh",
  denoTest,
  makeLayer: (dir, t) => Pbs.layer(config(remoteSpool(dir), 64)).pipe(Layer.provide(t)),
  transport: () => transport(),
  auth: pwAuth,
  statCommand: "qstat",
  walltime: "5 seconds",
  nodeCores: pbs?.ncpus ?? 8,
  usageOf: (id) => qstatUsage(PbsParse.sequenceOf(id)),
})
