/**
 * @internal The queue, asked politely: one answer of the stat command shared by every caller of a
 * resource and credential, across fibers and across `Lrms` instances, asked again only once it is
 * older than the current interval.
 *
 * - **Shared.** Answers live in a registry keyed by backend, host and resource name, then by
 *   credential. The registry is the service {@linkcode QueueWatches}, whose default is one per
 *   process; each `Lrms` holds its resource's entry for its scope's lifetime (reference counted:
 *   the last one out removes it). Providing another registry isolates a group of instances.
 * - **Watched ids.** The stat command is asked by ids (chunked at the dialect's `maxIds`): every
 *   id polled lately (within three ceilings), so one call answers every job of the credential.
 *   A job the last answer did not ask about, or that was submitted (or seen starting) after the
 *   answer was taken, is `NotYetKnown`: its state is kept, never judged absent by an old answer.
 * - **Adaptive pace.** The interval starts at the floor (`queueStatInterval`), doubles after
 *   each answer in which no job changed (state, native state or reason; a job appearing or
 *   leaving counts as a change), up to the ceiling (`queueStatMaxInterval`, default four
 *   floors), and drops back to the floor when an answer shows a change or a failure (the
 *   controller is asked again one floor later), a new job is watched, or a job ends (its exit
 *   record, a cancel). The stat command is never asked more often than once per floor.
 * - **One asker.** When the answer is too old, the first caller leads: it waits a few
 *   milliseconds for the callers of the same moment (real time, as the batcher does), asks, and
 *   hands the answer to all of them. A leader interrupted mid-way hands nothing, and a waiting
 *   caller leads instead.
 *
 * @module
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import { Auth, type AuthShape, credentialKey } from "../../../src/Auth.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import type { StatRecord } from "../Dialect.ts"

/** @internal What the stat command says about one job. */
export type StatOutcome =
  | { readonly _tag: "Found"; readonly record: StatRecord }
  | { readonly _tag: "Absent" }
  | { readonly _tag: "Failed"; readonly message: string }

/**
 * @internal What a caller learns: the stat command's word with the time its answer was taken
 * (`Clock` milliseconds, when the command was sent) and whether the caller's own call asked for
 * it (`fresh`) or found it already there; or `NotYetKnown`.
 */
export type Observed =
  | (StatOutcome & { readonly takenAt: number; readonly fresh: boolean })
  | { readonly _tag: "NotYetKnown" }

/** @internal The bounds of the interval between two asks, in milliseconds. */
export interface Pace {
  readonly floor: number
  readonly ceiling: number
}

/** @internal One answer: when it was taken and what it says of each id it asked about. */
export interface Answer {
  readonly takenAt: number
  readonly outcomes: ReadonlyMap<string, StatOutcome>
}

// =============================================================================
// Pure decisions
// =============================================================================

/** @internal The pace from the configuration: the floor, and the ceiling (default 4 floors). */
export const paceOf = (floor: Duration.Duration, ceiling: Duration.Duration | undefined): Pace => {
  const f = Duration.toMillis(floor)
  return {
    floor: f,
    ceiling: Math.max(f, ceiling === undefined ? 4 * f : Duration.toMillis(ceiling)),
  }
}

/** @internal The interval after an answer: the floor when it showed a change, else doubled. */
export const nextInterval = (pace: Pace, current: number, changed: boolean): number =>
  changed ? pace.floor : Math.min(pace.ceiling, Math.max(pace.floor, current * 2, 1))

const sameOutcome = (a: StatOutcome, b: StatOutcome): boolean =>
  a._tag === "Found" && b._tag === "Found"
    ? a.record.state === b.record.state && a.record.native === b.record.native &&
      (a.record.reason ?? "") === (b.record.reason ?? "")
    : a._tag === b._tag

/** @internal Tells whether a job changed between two answers (among the ids both asked about). */
export const changed = (before: Answer | undefined, after: Answer): boolean => {
  if (before === undefined) return true
  for (const [id, outcome] of after.outcomes) {
    const was = before.outcomes.get(id)
    if (was !== undefined && !sameOutcome(was, outcome)) return true
  }
  return false
}

/**
 * @internal What an answer says of one job: `NotYetKnown` when it did not ask about the job, or
 * was taken before `notBefore` (the job's submission, or the start its marker showed).
 */
export const judge = (
  answer: Answer,
  id: string,
  notBefore: number,
  fresh: boolean,
): Observed => {
  const outcome = answer.outcomes.get(id)
  return outcome === undefined || answer.takenAt < notBefore
    ? { _tag: "NotYetKnown" }
    : { ...outcome, takenAt: answer.takenAt, fresh }
}

/** @internal Tells whether an answer could not ask about some job (the scheduler failed). */
export const failed = (answer: Answer): boolean =>
  [...answer.outcomes.values()].some((o) => o._tag === "Failed")

// =============================================================================
// The registry
// =============================================================================

/** One credential's watch of one resource. */
interface Slot {
  answer: Answer | undefined
  /** The ids polled lately, with the time of their last poll. */
  readonly watched: Map<string, number>
  /** The caller asking now, whose answer the others wait for. */
  leader: Deferred.Deferred<Answer | undefined, LrmsError> | undefined
  /** The spans of the callers waiting for the next ask, which its span links to. */
  callers: Array<Tracer.AnySpan>
  /** How many polls have come, for the leader's wait for the callers of its moment. */
  polls: number
  interval: number
}

/** One resource's watch: its instances count and a slot per credential. */
interface Entry {
  refs: number
  readonly slots: Map<string, Slot>
}

/** @internal The watches of one process (or of one group of `Lrms` instances). */
export interface Registry {
  readonly entries: Map<string, Entry>
}

/** @internal An empty registry. */
export const makeRegistry = (): Registry => ({ entries: new Map() })

/**
 * @internal The registry the batch flow shares its queue answers through; by default one per
 * process, so that every `Lrms` of a resource and credential shares one answer.
 */
export class QueueWatches extends Context.Reference<QueueWatches>()(
  "effect-lrms/batch/QueueWatches",
  { defaultValue: makeRegistry },
) {}

// =============================================================================
// One resource's watch
// =============================================================================

/** @internal How an `Lrms` watches its resource's queue. */
export interface WatchOptions {
  /** The resource's key: backend, host and resource name. */
  readonly key: string
  readonly pace: Pace
  /** Most ids one stat command takes. */
  readonly maxIds: number
  /** Asks the stat command about some ids (one call); an id it leaves out is `Absent`. */
  readonly ask: (
    ids: ReadonlyArray<string>,
  ) => Effect.Effect<ReadonlyMap<string, StatOutcome>, LrmsError, Auth>
  /** How long the leader waits for the callers of the same moment (default 5 ms). */
  readonly window?: Duration.DurationInput
}

/** @internal A resource's queue, as one `Lrms` sees it. */
export interface QueueWatch {
  /** What the scheduler says of a job, from an answer fresh enough (asked now if none is). */
  readonly stat: (id: string, notBefore: number) => Effect.Effect<Observed, LrmsError, Auth>
  /** Stops watching a job that ended or was cancelled; the pace goes back to the floor. */
  readonly settled: (id: string) => Effect.Effect<void, never, Auth>
}

const realClock = Clock.make()

/** Waits a window, then as long as callers keep coming (at most ten windows more). */
const quiet = (window: Duration.DurationInput, size: () => number) =>
  Effect.gen(function* () {
    yield* Effect.sleep(window)
    for (let i = 0; i < 10; i++) {
      const before = size()
      yield* Effect.sleep(window)
      if (size() === before) return
    }
  }).pipe(Effect.withClock(realClock))

const keys = new WeakMap<AuthShape, string>()

/** The credential's key, computed once per `Auth` value. */
const keyOf = (auth: AuthShape): string => {
  const known = keys.get(auth)
  if (known !== undefined) return known
  const key = credentialKey(auth.credential)
  keys.set(auth, key)
  return key
}

/** @internal Joins (or opens) the resource's entry in the registry for the scope's lifetime. */
export const make = (options: WatchOptions): Effect.Effect<QueueWatch, never, Scope.Scope> =>
  Effect.gen(function* () {
    const registry = yield* QueueWatches
    const entry = registry.entries.get(options.key) ?? { refs: 0, slots: new Map() }
    registry.entries.set(options.key, entry)
    entry.refs++
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        if (--entry.refs === 0 && registry.entries.get(options.key) === entry) {
          registry.entries.delete(options.key)
        }
      })
    )
    const { pace } = options
    const window = options.window ?? Duration.millis(5)
    const slotOf = Effect.map(Auth, (auth) => {
      const key = keyOf(auth)
      const found = entry.slots.get(key)
      if (found !== undefined) return found
      const slot: Slot = {
        answer: undefined,
        watched: new Map(),
        leader: undefined,
        callers: [],
        polls: 0,
        interval: pace.floor,
      }
      entry.slots.set(key, slot)
      return slot
    })

    /** The ids to ask about: those polled within three ceilings (and the last minute). */
    const snapshot = (slot: Slot, now: number) => {
      const keep = Math.max(3 * pace.ceiling, 60_000)
      for (const [id, at] of slot.watched) {
        if (now - at > keep) slot.watched.delete(id)
      }
      return [...slot.watched.keys()]
    }

    const askAll = (ids: ReadonlyArray<string>, callers: ReadonlyArray<Tracer.AnySpan>) =>
      Effect.gen(function* () {
        const outcomes = new Map<string, StatOutcome>()
        for (let i = 0; i < ids.length; i += options.maxIds) {
          const chunk = ids.slice(i, i + options.maxIds)
          const said = yield* options.ask(chunk)
          for (const id of chunk) outcomes.set(id, said.get(id) ?? { _tag: "Absent" })
        }
        return outcomes
      }).pipe(Effect.withSpan("Batch.stat", {
        root: true,
        captureStackTrace: false,
        attributes: { "lrms.batch.size": ids.length },
        links: callers.map((span) => ({ _tag: "SpanLink" as const, span, attributes: {} })),
      }))

    /** Asks now, for every caller of the moment; `undefined` when interrupted. */
    const lead = (slot: Slot) =>
      Effect.gen(function* () {
        const deferred = yield* Deferred.make<Answer | undefined, LrmsError>()
        slot.leader = deferred
        const asked = Effect.gen(function* () {
          yield* quiet(window, () => slot.polls)
          const takenAt = yield* Clock.currentTimeMillis
          const callers = slot.callers
          slot.callers = []
          const answer: Answer = {
            takenAt,
            outcomes: yield* askAll(snapshot(slot, takenAt), callers),
          }
          const moved = changed(slot.answer, answer) || failed(answer)
          slot.interval = nextInterval(pace, slot.interval, moved)
          slot.answer = answer
          return answer
        })
        return yield* asked.pipe(Effect.onExit((exit) =>
          Effect.suspend(() => {
            if (slot.leader === deferred) slot.leader = undefined
            const handed = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
              ? Exit.succeed(undefined)
              : exit
            return Deferred.done(deferred, handed)
          })
        ))
      })

    /** An answer fresh enough for the caller (and whether it was asked for now). */
    const current = (
      slot: Slot,
      now: number,
      span: Option.Option<Tracer.AnySpan>,
    ): Effect.Effect<readonly [Answer, boolean], LrmsError, Auth> =>
      Effect.suspend(() => {
        const answer = slot.answer
        const interval = Math.min(pace.ceiling, Math.max(pace.floor, slot.interval))
        if (answer !== undefined && now - answer.takenAt < interval) {
          return Effect.succeed([answer, false] as const)
        }
        if (Option.isSome(span)) slot.callers.push(span.value)
        const waiting = slot.leader === undefined ? lead(slot) : Deferred.await(slot.leader)
        return Effect.flatMap(
          waiting,
          (got) =>
            got !== undefined ? Effect.succeed([got, true] as const) : current(slot, now, span),
        )
      })

    return {
      stat: (id, notBefore) =>
        Effect.gen(function* () {
          const slot = yield* slotOf
          const now = yield* Clock.currentTimeMillis
          if (!slot.watched.has(id)) slot.interval = pace.floor
          slot.watched.set(id, now)
          slot.polls++
          const span = yield* Effect.option(Effect.currentSpan)
          const [answer, fresh] = yield* current(slot, now, span)
          return judge(answer, id, notBefore, fresh)
        }),
      settled: (id) =>
        Effect.map(slotOf, (slot) => {
          if (slot.watched.delete(id)) slot.interval = pace.floor
        }),
    }
  })
