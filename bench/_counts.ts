/**
 * The scheduler calls a benchmark's library side made, read from the `lrms.commands` metric:
 * counts by command name for one backend, and the difference since an earlier reading.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricState from "effect/MetricState"

/** The commands one backend ran so far, by name (`lrms.commands`). */
export const commandCounts = (backend: string): Effect.Effect<ReadonlyMap<string, number>> =>
  Effect.map(Metric.snapshot, (pairs) => {
    const counts = new Map<string, number>()
    for (const p of pairs) {
      if (p.metricKey.name !== "lrms.commands") continue
      const tag = (key: string) => p.metricKey.tags.find((t) => t.key === key)?.value
      if (tag("backend") !== backend) continue
      const count = (p.metricState as MetricState.MetricState.Counter<number>).count
      counts.set(tag("command") ?? "?", count)
    }
    return counts
  })

/** The commands run since `before`, by name (only those that ran). */
export const since = (
  backend: string,
  before: ReadonlyMap<string, number>,
): Effect.Effect<ReadonlyMap<string, number>> =>
  Effect.map(commandCounts(backend), (now) => {
    const delta = new Map<string, number>()
    for (const [k, v] of now) if (v > (before.get(k) ?? 0)) delta.set(k, v - (before.get(k) ?? 0))
    return delta
  })
