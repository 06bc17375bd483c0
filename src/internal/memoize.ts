/**
 * @internal Memoization that remembers successes only: a failed attempt (a dropped connection,
 * say) is retried by the next caller.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** @internal Runs `self` once successfully, then returns its value; failures are not kept. */
export const memoize = <A, E, R>(
  self: Effect.Effect<A, E, R>,
): Effect.Effect<Effect.Effect<A, E, R>> => Effect.sync(() => unsafeMemoize(self))

const unsafeMemoize = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const lock = Effect.unsafeMakeSemaphore(1)
  let value: Option.Option<A> = Option.none()
  return lock.withPermits(1)(
    Effect.suspend(() =>
      Option.isSome(value)
        ? Effect.succeed(value.value)
        : Effect.tap(self, (a) => Effect.sync(() => (value = Option.some(a))))
    ),
  )
}

/**
 * @internal One memoized value per key (a credential): `get(key)` runs `make(key)` the first time
 * it succeeds for that key.
 */
export const memoizeBy = <K, A, E, R>(
  make: (key: K) => Effect.Effect<A, E, R>,
): (key: K) => Effect.Effect<A, E, R> => {
  const cells = new Map<K, Effect.Effect<A, E, R>>()
  return (key) =>
    Effect.suspend(() => {
      let cell = cells.get(key)
      if (cell === undefined) {
        cell = unsafeMemoize(Effect.suspend(() => make(key)))
        cells.set(key, cell)
      }
      return cell
    })
}
