/**
 * @internal A cross-fiber batcher: requests made by many fibers within a short window are
 * answered by one call (one `ps`, one `squeue`), grouped by the caller's `Auth`.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import { Auth, type AuthShape } from "../Auth.ts"

const realClock = Clock.make()

interface Pending<K, V, E> {
  readonly key: K
  readonly auth: AuthShape
  readonly deferred: Deferred.Deferred<V, E>
  /** The caller's span, which the batch's span links to. */
  readonly span: Option.Option<Tracer.AnySpan>
}

/** @internal */
export interface BatcherOptions<K, V, E> {
  /** The name of each call's span, linked to the spans of the requests it answers. */
  readonly name: string
  /**
   * How long the first request of a batch waits for others; the batch is sent once a window
   * passes without a new request (at most ten windows more).
   */
  readonly window: Duration.DurationInput
  /** Most keys in one call (command-line length). */
  readonly maxBatch: number
  /** Answers a batch of distinct keys; a key missing from the map gets `missing`. */
  readonly run: (keys: ReadonlyArray<K>) => Effect.Effect<ReadonlyMap<K, V>, E, Auth>
  /** The answer for a key the call did not mention. */
  readonly missing: V
}

/** @internal Makes a batcher whose flushes run in the given scope. */
export const make = <K, V, E>(
  options: BatcherOptions<K, V, E>,
): Effect.Effect<(key: K) => Effect.Effect<V, E, Auth>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    let pending: Array<Pending<K, V, E>> = []
    let scheduled = false
    yield* Effect.addFinalizer(() =>
      Effect.forEach(pending, (p) => Deferred.interrupt(p.deferred), { discard: true })
    )
    const flush = Effect.suspend(() => {
      const batch = pending
      pending = []
      scheduled = false
      const byAuth = new Map<AuthShape, Array<Pending<K, V, E>>>()
      for (const p of batch) {
        const list = byAuth.get(p.auth) ?? []
        list.push(p)
        byAuth.set(p.auth, list)
      }
      // if the scope closes mid-batch, every caller of the batch is interrupted, not left waiting
      const interruptAll = Effect.forEach(batch, (p) => Deferred.interrupt(p.deferred), {
        discard: true,
      })
      return Effect.forEach(byAuth, ([auth, items]) => {
        const keys = [...new Set(items.map((i) => i.key))]
        const chunks: Array<Array<K>> = []
        for (let i = 0; i < keys.length; i += options.maxBatch) {
          chunks.push(keys.slice(i, i + options.maxBatch))
        }
        return Effect.forEach(chunks, (chunk) =>
          options.run(chunk).pipe(
            Effect.provideService(Auth, auth),
            Effect.withSpan(options.name, {
              root: true,
              captureStackTrace: false,
              attributes: { "lrms.batch.size": chunk.length },
              links: items.filter((i) => chunk.includes(i.key)).flatMap((i) =>
                Option.isSome(i.span)
                  ? [{ _tag: "SpanLink" as const, span: i.span.value, attributes: {} }]
                  : []
              ),
            }),
            Effect.exit,
            Effect.flatMap((exit) =>
              Effect.forEach(items.filter((i) => chunk.includes(i.key)), (item) =>
                Deferred.done(
                  item.deferred,
                  Exit.map(
                    exit,
                    (answers) => answers.has(item.key) ? answers.get(item.key)! : options.missing,
                  ),
                ), { discard: true })
            ),
          ), { discard: true })
      }, { discard: true, concurrency: "unbounded" }).pipe(Effect.onInterrupt(() => interruptAll))
    })
    // The window, then as long as requests keep coming (at most ten windows more): the runtime
    // runs fibers in slices and yields to the event loop between them, so on a loaded machine the
    // requests of one moment may arrive over several windows.
    // The window is real time whatever `Clock` the program runs with: it waits for the runtime to
    // deliver the requests of one moment, which a `TestClock` does not move.
    const quiet = Effect.gen(function* () {
      yield* Effect.sleep(options.window)
      for (let i = 0; i < 10; i++) {
        const before = pending.length
        yield* Effect.sleep(options.window)
        if (pending.length === before) return
      }
    }).pipe(Effect.withClock(realClock))
    return (key: K) =>
      Effect.gen(function* () {
        const auth = yield* Auth
        const deferred = yield* Deferred.make<V, E>()
        const span = yield* Effect.option(Effect.currentSpan)
        pending.push({ key, auth, deferred, span })
        if (!scheduled) {
          scheduled = true
          yield* Effect.forkIn(Effect.zipRight(quiet, flush), scope)
        }
        return yield* Deferred.await(deferred)
      })
  })
