/**
 * The PBS backend in the PBS Pro flavour on the real OpenPBS 23.06.06 of test/services/pbs-up.sh
 * (daemons in the network namespace lrms-pbs), over SSH as the test user lrmspw (the
 * local-transport suites run as lrmskey at the same time, and the status checks count their
 * user's jobs), its commands by full path (`/usr/bin/qsub` is Grid Engine's): the contract suite
 * and the real-scheduler checks (exit 3, signal 9, a walltime kill, cancel while queued and
 * running, a request over the queue's limits, usage as `qstat -x -f` reports it, 50 jobs in one
 * `qstat`).
 */
import * as Layer from "effect/Layer"
import * as Pbs from "../backends/pbs/Pbs.ts"
import * as PbsParse from "../backends/pbs/PbsParse.ts"
import { suite } from "./contract/LrmsContract.ts"
import { pbsConfig, qstatUsage, remoteSpool } from "./_batch_servers.ts"
import { checks } from "./_real_batch.ts"
import { pbs, pbsTest } from "./_pbs.ts"
import { pwAuth, sshd, transport } from "./_sshd.ts"

const bin = pbs?.bin ?? "/opt/pbs/bin"
const config = pbsConfig("openpbs-test", "pbspro", bin)
const denoTest = { ...pbsTest, ignore: pbsTest.ignore || sshd === undefined }

suite("pbs(pbspro)+ssh", {
  makeLayer: ({ dir, maxCores }) =>
    Pbs.layer(config(remoteSpool(dir), maxCores)).pipe(Layer.provide(transport())),
  auth: pwAuth,
  sharedResource: true,
  timeout: "120 seconds",
  denoTest,
})

const usage = qstatUsage(`${bin}/qstat`, ["-x", "-f"])

checks({
  name: "pbs(pbspro)+ssh",
  denoTest,
  makeLayer: (dir, t) => Pbs.layer(config(remoteSpool(dir), 64)).pipe(Layer.provide(t)),
  transport: () => transport(),
  auth: pwAuth,
  statCommand: "qstat",
  walltime: "5 seconds",
  nodeCores: pbs?.ncpus ?? 8,
  usageOf: (id) => usage(PbsParse.sequenceOf(id)),
})
