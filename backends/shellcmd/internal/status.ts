/**
 * @internal The resource's status from the bookkeeping, and the garbage collection of records
 * whose wrapper vanished unseen (or whose submitter did, before the launch).
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Auth } from "../../../src/Auth.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import * as Quantity from "../../../src/Quantity.ts"
import * as Resource from "../../../src/Resource.ts"
import * as Bookkeeping from "../Bookkeeping.ts"
import * as Processes from "../Processes.ts"
import * as Wrapper from "../Wrapper.ts"
import { type Env, privatePath, readOptional, STALE_RESERVATION_MS } from "./env.ts"
import { settleLaunch } from "./settle.ts"

/**
 * @internal Marks done the records of jobs whose wrapper vanished unseen; returns how many.
 */
export const collectGarbage = (
  env: Env,
  store: Bookkeeping.Store,
  listed: ReadonlyArray<Bookkeeping.Listed>,
): Effect.Effect<number, LrmsError, Auth> =>
  Effect.gen(function* () {
    const { transport } = env
    const entries = yield* Effect.forEach(
      listed,
      (l) => store.read(l).pipe(Effect.option, Effect.map((e) => [l, e] as const)),
      { concurrency: 8 },
    )
    /** Gone (or a reused pid): finished, whether or not its marker made it. */
    const gone = (pid: number, startedAt: number | undefined) =>
      Effect.map(env.processInfo(pid), (row) => !Processes.isAlive(row, startedAt))
    let collected = 0
    yield* Effect.forEach(entries, ([listedEntry, entry]) =>
      Effect.gen(function* () {
        if (Option.isNone(entry)) return
        const e = entry.value
        const started = privatePath(e.jobDir, Wrapper.Files.started)
        const info = yield* transport.stat(started).pipe(Effect.option)
        const pid = Option.isSome(info)
          ? Number(
            yield* readOptional(transport, started).pipe(Effect.map(Option.getOrElse(() => ""))),
          )
          : NaN
        let dead: boolean
        if (!Number.isSafeInteger(pid) || pid <= 0) {
          // not started yet: its submitter rewrites the record every 20 s while it stages
          // the inputs and launches, so a record untouched for 90 s lost its submitter
          const record = yield* transport.stat(`${store.dir}/${listedEntry.file}`).pipe(
            Effect.option,
          )
          const now = yield* Clock.currentTimeMillis
          if (
            Option.isNone(record) ||
            now - record.value.mtime.getTime() <= STALE_RESERVATION_MS
          ) return
          // Settle its launch token first: a launch still on its way (its reply lost) then
          // cannot start the job once its capacity is released. Unsure: keep the record.
          const state = yield* settleLaunch(env, e.jobId, e.jobDir).pipe(Effect.option)
          if (Option.isNone(state)) return
          dead = state.value._tag === "Started"
            ? yield* gone(state.value.pid, state.value.startedAt)
            : true
        } else {
          dead = yield* gone(
            pid,
            Option.isSome(info) ? info.value.mtime.getTime() / 1000 : undefined,
          )
        }
        if (dead) {
          yield* store.markDone(e.jobId)
          collected++
        }
      }), { concurrency: "unbounded", discard: true })
    return collected
  })

/** @internal `getResourceStatus`: capacity in use, from the bookkeeping (collected first). */
export const status = (env: Env): Effect.Effect<Resource.ResourceStatus, LrmsError, Auth> =>
  Effect.gen(function* () {
    const { store, limits: { resource, totalMemory } } = yield* env.discover
    let listed = yield* store.list
    if (listed.length > 0 && (yield* collectGarbage(env, store, listed)) > 0) {
      listed = yield* store.list
    }
    const inUse = Bookkeeping.used(listed)
    return new Resource.ResourceStatus({
      freeSlots: Math.max(0, resource.maxCores - inUse.cores),
      userRun: listed.length,
      userQueued: 0,
      queued: 0,
      totalRun: listed.length,
      availableMemory: Quantity.memory(Math.max(0, totalMemory - inUse.memory)),
      totalMemory: Quantity.memory(totalMemory),
      updatedAt: new Date(yield* Clock.currentTimeMillis),
    })
  })
