/**
 * The batch backends over the local transport, as a normal user would run them on a login node:
 * the contract suite and the real-scheduler checks on OpenPBS (PBS Pro flavour), TORQUE and
 * OpenLava. PBS and OpenLava refuse root's jobs, so test/as_user.test.ts runs this file as the
 * test user `lrmskey` (with `runuser`) when the suite runs as root; a normal user's run imports
 * it directly. Not named `*.test.ts`: the parallel run must not load it as root.
 */
import * as Layer from "effect/Layer"
import * as LocalTransport from "../../backends/local/LocalTransport.ts"
import * as Lsf from "../../backends/lsf/Lsf.ts"
import * as Pbs from "../../backends/pbs/Pbs.ts"
import { suite } from "../contract/LrmsContract.ts"
import { openlavaConfig, pbsConfig } from "../_batch_servers.ts"
import { checks } from "../_real_batch.ts"
import { lsf, lsfTest } from "../_lsf.ts"
import { pbs, pbsTest } from "../_pbs.ts"
import { torque, torqueTest } from "../_torque.ts"

interface Scheduler {
  readonly name: string
  readonly denoTest: Omit<Deno.TestDefinition, "name" | "fn">
  readonly config: (spooldir: string, maxCores: number) => Pbs.PbsConfigInput | Lsf.LsfConfigInput
  readonly layer: (
    config: Pbs.PbsConfigInput | Lsf.LsfConfigInput,
  ) => ReturnType<typeof Pbs.layer>
  readonly statCommand: string
  readonly walltime: string
  readonly nodeCores: number
}

const schedulers: ReadonlyArray<Scheduler> = [
  {
    name: "pbs(pbspro)+local",
    denoTest: pbsTest,
    config: pbsConfig("openpbs-test", "pbspro", pbs?.bin ?? "/opt/pbs/bin"),
    layer: (c) => Pbs.layer(c as Pbs.PbsConfigInput),
    statCommand: "qstat",
    walltime: "5 seconds",
    nodeCores: pbs?.ncpus ?? 8,
  },
  {
    name: "pbs(torque)+local",
    denoTest: torqueTest,
    config: pbsConfig("torque-test", "torque", torque?.bin ?? "/opt/torque/bin"),
    layer: (c) => Pbs.layer(c as Pbs.PbsConfigInput),
    statCommand: "qstat",
    walltime: "5 seconds",
    nodeCores: torque?.np ?? 8,
  },
  {
    name: "lsf(openlava)+local",
    denoTest: lsfTest,
    config: openlavaConfig,
    layer: (c) => Lsf.layer(c as Lsf.LsfConfigInput),
    statCommand: "bjobs",
    walltime: "1 minute",
    nodeCores: lsf?.slots ?? 8,
  },
]

for (const s of schedulers) {
  suite(s.name, {
    makeLayer: ({ dir, maxCores }) =>
      s.layer(s.config(`${dir}/spool`, maxCores)).pipe(Layer.provide(LocalTransport.layer)),
    sharedResource: true,
    timeout: "120 seconds",
    denoTest: s.denoTest,
  })
  checks({
    name: s.name,
    denoTest: s.denoTest,
    makeLayer: (dir, t) => s.layer(s.config(`${dir}/spool`, 64)).pipe(Layer.provide(t)),
    transport: () => LocalTransport.layer,
    statCommand: s.statCommand,
    walltime: s.walltime,
    nodeCores: s.nodeCores,
  })
}
