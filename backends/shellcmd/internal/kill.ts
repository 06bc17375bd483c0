/**
 * @internal Ending a job's processes: find its process tree (never a stranger that reused the
 * wrapper's pid), TERM it, and KILL what is left after the grace period.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { Auth } from "../../../src/Auth.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import * as Metrics from "../../../src/Metrics.ts"
import * as Processes from "../Processes.ts"
import { BACKEND, type Env } from "./env.ts"

/** The job's processes, leaves first; empty when the wrapper is gone. */
const processTree = (env: Env, pid: number, startedAt: number | undefined) =>
  env.transport.exec(Processes.psAllArgv, { env: Processes.psEnv }).pipe(
    Metrics.countCommand(BACKEND, "ps"),
    Effect.map((r) => {
      const rows = Processes.parsePs(r.stdout)
      const root = rows.find((row) => row.pid === pid)
      // A live root with another start time is a stranger that reused the pid: touch
      // nothing. Without any root, a group still led by our pid is what is left of the job
      // (the kernel does not hand out a pid that is still a process group's id).
      const members = root !== undefined
        ? (Processes.sameStart(root, startedAt) ? Processes.tree(rows, pid) : [])
        : Processes.tree(rows.filter((row) => row.pgid === pid), pid)
      const byPid = new Map(rows.map((row) => [row.pid, row]))
      return members.filter((p) => {
        const row = byPid.get(p)
        return row !== undefined && !row.stat.startsWith("Z")
      })
    }),
  )

const signal = (env: Env, sig: "TERM" | "KILL", pids: ReadonlyArray<number>) =>
  pids.length === 0
    ? Effect.void
    : env.transport.exec(["kill", "-s", sig, "--", ...pids.map(String)]).pipe(
      Metrics.countCommand(BACKEND, "kill"),
      Effect.asVoid,
    )

/**
 * @internal TERMs the whole tree of the wrapper `pid` (started at `startedAt`, seconds since
 * the epoch), waits up to `cancelGrace`, KILLs what is left; returns how many processes it
 * found.
 */
export const killTree = (
  env: Env,
  pid: number,
  startedAt: number | undefined,
): Effect.Effect<number, LrmsError, Auth> =>
  Effect.gen(function* () {
    const pids = yield* processTree(env, pid, startedAt)
    if (pids.length === 0) return 0
    yield* signal(env, "TERM", pids)
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(env.config.cancelGrace)
    let left: ReadonlyArray<number> = pids
    while (left.length > 0 && (yield* Clock.currentTimeMillis) < deadline) {
      yield* Effect.sleep(Duration.millis(50))
      const rows = yield* env.transport.exec(Processes.psPidsArgv(left), { env: Processes.psEnv })
        .pipe(Metrics.countCommand(BACKEND, "ps"))
      const alive = new Set(
        Processes.parsePs(rows.stdout).filter((r) => !r.stat.startsWith("Z")).map((r) => r.pid),
      )
      left = left.filter((p) => alive.has(p))
    }
    yield* signal(env, "KILL", left)
    // A process forked after the snapshot (a payload starting its children while TERM was
    // on its way) escaped it, but not the job's process group: look again until it is empty.
    for (let round = 0; round < 10; round++) {
      const rest = yield* processTree(env, pid, startedAt)
      if (rest.length === 0) break
      yield* signal(env, round === 0 ? "TERM" : "KILL", rest)
      yield* Effect.sleep(Duration.millis(50))
    }
    return pids.length
  })
