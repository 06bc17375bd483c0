/**
 * The PBS parsers in the Torque flavour on what a real TORQUE 6.1.3 printed
 * (test/data/vectors/recorded/recorded-torque.txt, by test/services/torque-record.sh).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Duration from "effect/Duration"
import * as Pbs from "../backends/pbs/PbsParse.ts"
import * as Termination from "../src/Termination.ts"
import { recorded } from "./_vectors.ts"

const FILE = "recorded-torque.txt"

const byLabel = async (label: string) => {
  const b = (await recorded(FILE)).find((x) => x.label === label)
  ok(b !== undefined, `no "${label}" block in ${FILE}`)
  return b
}
const record = async (label: string) => {
  const records = [...Pbs.parseQstatFull((await byLabel(label)).output, "torque").values()]
  strictEqual(records.length, 1, label)
  return records[0]!
}

Deno.test("TORQUE: qstat -f of finished jobs: exit 0 and 3, kill -9, walltime kill −11, qdel 271", async () => {
  deepStrictEqual((await record("qstat -f after exit 0")).termination, Termination.exited(0))
  const three = await record("qstat -f after exit 3")
  deepStrictEqual(three.termination, Termination.exited(3))
  ok(three.usage.duration !== undefined, "resources_used.walltime is read")
  deepStrictEqual((await record("qstat -f after kill -9")).termination, Termination.signalled(9))
  const walltime = await record("qstat -f after walltime kill")
  strictEqual(walltime.attributes.get("exit_status"), "-11")
  deepStrictEqual(
    walltime.termination,
    Termination.signalled(Termination.Signals.RemoteKill, Termination.EX_TEMPFAIL),
  )
  ok(Duration.toSeconds(walltime.usage.duration!) >= 5)
  deepStrictEqual(
    (await record("qstat -f after qdel running")).termination,
    Termination.signalled(15),
  )
})

Deno.test("TORQUE: a queued job qdel'ed is completed with no exit status: TERMINATING, its end unknown", async () => {
  const held = await record("qstat -f after qdel queued (held)")
  strictEqual(held.state, "TERMINATING")
  strictEqual(held.termination, undefined, "no exit_status: accounting (or the cancel) tells")
})

Deno.test("TORQUE: qsub's refusals carry no job id; ppn over np is refused at once", async () => {
  for (
    const label of [
      "more processors per node than np: nodes=1:ppn=16",
      "more nodes than exist: nodes=2",
      "walltime over the queue's maximum",
      "unknown queue",
    ]
  ) {
    const b = await byLabel(label)
    ok(b.rc !== 0, label)
    strictEqual(Pbs.parseQsubJobId(b.output), undefined, label)
    strictEqual(Pbs.qsubRetryable(b.output), false, label)
  }
})
