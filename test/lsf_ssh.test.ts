/**
 * The LSF backend in the OpenLava flavour on the real OpenLava 3.3.3 of test/services/lsf-up.sh,
 * over SSH as the test user lrmspw (the local-transport suites run as lrmskey at the same
 * time, and the status checks count their user's jobs) (its commands on the default PATH, as on an LSF site): the
 * contract suite and the real-scheduler checks (exit 3, signal 9, a one-minute run limit,
 * cancel while queued and running, a request over the node's slots, usage as `bhist -l`
 * reports it, 50 jobs in one `bjobs`).
 */
import * as Layer from "effect/Layer"
import * as Lsf from "../backends/lsf/Lsf.ts"
import { suite } from "./contract/LrmsContract.ts"
import { openlavaConfig, remoteSpool } from "./_batch_servers.ts"
import { checks } from "./_real_batch.ts"
import { lsf, lsfTest } from "./_lsf.ts"
import { pwAuth, sshd, transport } from "./_sshd.ts"

const denoTest = {
  ...lsfTest,
  ignore: lsfTest.ignore || sshd === undefined,
}

suite("lsf(openlava)+ssh", {
  makeLayer: ({ dir, maxCores }) =>
    Lsf.layer(openlavaConfig(remoteSpool(dir), maxCores)).pipe(Layer.provide(transport())),
  auth: pwAuth,
  sharedResource: true,
  timeout: "120 seconds",
  denoTest,
})

checks({
  name: "lsf(openlava)+ssh",
  denoTest,
  makeLayer: (dir, t) => Lsf.layer(openlavaConfig(remoteSpool(dir), 64)).pipe(Layer.provide(t)),
  transport: () => transport(),
  auth: pwAuth,
  statCommand: "bjobs",
  walltime: "1 minute",
  nodeCores: lsf?.slots ?? 8,
})
