/**
 * @internal The submit rate limit (`maxSubmitsPerMinute`): a token bucket on `Clock`, counted in
 * submit commands (one `sbatch`, whether it submits one job or an array of a thousand).
 *
 * With a limit of N a minute, the bucket holds at most ⌈N / 6⌉ tokens (ten seconds' worth) and
 * refills at N a minute, continuously; it starts full. A submit command takes a token; when
 * none is left, it waits for the next. So a burst goes at once up to ⌈N / 6⌉ commands, then one
 * every 60 / N seconds, and no minute sees more than N + ⌈N / 6⌉. Takers are served in turn.
 *
 * @module
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** @internal A submit rate limit. */
export interface SubmitRate {
  /**
   * Waits until at least one submit command may go, then takes as many as allowed, up to
   * `wanted`, and says how many (all of them at once when there is no limit).
   */
  readonly take: (wanted: number) => Effect.Effect<number>
}

/** @internal The bucket's size for a limit: ten seconds' worth, at least one. */
export const burstOf = (perMinute: number): number => Math.max(1, Math.ceil(perMinute / 6))

/** @internal A limit of `perMinute` submit commands a minute; none when `undefined`. */
export const make = (perMinute: number | undefined): Effect.Effect<SubmitRate> =>
  Effect.gen(function* () {
    if (perMinute === undefined || !(perMinute > 0) || !Number.isFinite(perMinute)) {
      return { take: (wanted) => Effect.succeed(Math.max(0, wanted)) }
    }
    const capacity = burstOf(perMinute)
    const perMilli = perMinute / 60_000
    const turn = yield* Effect.makeSemaphore(1)
    const bucket = { tokens: capacity, at: yield* Clock.currentTimeMillis }
    const refill = Effect.map(Clock.currentTimeMillis, (now) => {
      bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.at) * perMilli)
      bucket.at = now
    })
    const take = (wanted: number) =>
      Effect.gen(function* () {
        if (wanted <= 0) return 0
        yield* refill
        if (bucket.tokens < 1) {
          yield* Effect.sleep(Duration.millis(Math.ceil((1 - bucket.tokens) / perMilli)))
          yield* refill
        }
        const n = Math.max(1, Math.min(wanted, Math.floor(bucket.tokens)))
        bucket.tokens -= n
        return n
      })
    return { take: (wanted) => turn.withPermits(1)(take(wanted)) }
  })

/**
 * @internal Runs `items` in turns of as many as the rate allows, in order, each turn one call of
 * `run`; the answers of every turn, merged. Without a limit, one turn runs them all.
 */
export const inTurns = <A, B, E, R>(
  rate: SubmitRate,
  items: ReadonlyArray<A>,
  run: (turn: ReadonlyArray<A>) => Effect.Effect<ReadonlyMap<A, B>, E, R>,
): Effect.Effect<ReadonlyMap<A, B>, E, R> =>
  Effect.gen(function* () {
    const answers = new Map<A, B>()
    let next = 0
    while (next < items.length) {
      const n = yield* rate.take(items.length - next)
      const turn = items.slice(next, next + n)
      next += n
      for (const [k, v] of yield* run(turn)) answers.set(k, v)
    }
    return answers
  })
