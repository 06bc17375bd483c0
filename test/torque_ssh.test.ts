/**
 * The PBS backend in the Torque flavour on the real TORQUE 6.1.3 of test/services/torque-up.sh
 * (daemons in the network namespace lrms-torque), over SSH as the test user lrmspw (the
 * local-transport suites run as lrmskey at the same time, and the status checks count their
 * user's jobs), its commands by full path (`/usr/bin/qsub` is Grid Engine's): the contract suite
 * and the real-scheduler checks (exit 3, signal 9, a walltime kill, cancel while queued and
 * running, a request over the queue's limits, usage as `qstat -f` reports it (finished jobs are
 * kept 5 minutes), 50 jobs in one `qstat`).
 */
import * as Layer from "effect/Layer"
import * as Pbs from "../backends/pbs/Pbs.ts"
import * as PbsParse from "../backends/pbs/PbsParse.ts"
import { suite } from "./contract/LrmsContract.ts"
import { pbsConfig, qstatUsage, remoteSpool } from "./_batch_servers.ts"
import { checks } from "./_real_batch.ts"
import { torque, torqueTest } from "./_torque.ts"
import { pwAuth, sshd, transport } from "./_sshd.ts"

const bin = torque?.bin ?? "/opt/torque/bin"
const config = pbsConfig("torque-test", "torque", bin)
const denoTest = { ...torqueTest, ignore: torqueTest.ignore || sshd === undefined }

suite("pbs(torque)+ssh", {
  makeLayer: ({ dir, maxCores }) =>
    Pbs.layer(config(remoteSpool(dir), maxCores)).pipe(Layer.provide(transport())),
  auth: pwAuth,
  sharedResource: true,
  timeout: "120 seconds",
  denoTest,
})

const usage = qstatUsage(`${bin}/qstat`, ["-f"])

checks({
  name: "pbs(torque)+ssh",
  denoTest,
  makeLayer: (dir, t) => Pbs.layer(config(remoteSpool(dir), 64)).pipe(Layer.provide(t)),
  transport: () => transport(),
  auth: pwAuth,
  statCommand: "qstat",
  walltime: "5 seconds",
  nodeCores: torque?.np ?? 8,
  usageOf: (id) => usage(PbsParse.sequenceOf(id)),
})
