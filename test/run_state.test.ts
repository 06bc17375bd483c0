/**
 * RunState: the states of a job and the moves between them (spec §2.1).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as RunState from "../src/RunState.ts"

type S = RunState.RunState

Deno.test("all: the seven states in lifecycle order", () => {
  deepStrictEqual(RunState.all, [
    "NEW",
    "SUBMITTED",
    "RUNNING",
    "STOPPED",
    "TERMINATING",
    "TERMINATED",
    "UNKNOWN",
  ])
  const decode = Schema.decodeUnknownEither(RunState.RunState)
  for (const s of RunState.all) deepStrictEqual(decode(s), Either.right(s))
  for (const bad of ["new", "DONE", "", 0]) ok(Either.isLeft(decode(bad)), String(bad))
})

Deno.test("canTransition: exactly the allowed moves", () => {
  const allowed: ReadonlyArray<readonly [S, S]> = [
    ["NEW", "SUBMITTED"],
    ["SUBMITTED", "RUNNING"],
    ["SUBMITTED", "STOPPED"],
    // a short job may end between two polls
    ["SUBMITTED", "TERMINATING"],
    ["SUBMITTED", "TERMINATED"],
    ["SUBMITTED", "UNKNOWN"],
    ["RUNNING", "SUBMITTED"], // requeued (preemption, node failure)
    ["RUNNING", "STOPPED"],
    ["RUNNING", "TERMINATING"],
    ["RUNNING", "TERMINATED"],
    ["RUNNING", "UNKNOWN"],
    ["STOPPED", "SUBMITTED"],
    ["STOPPED", "RUNNING"],
    ["STOPPED", "TERMINATING"],
    ["STOPPED", "TERMINATED"],
    ["STOPPED", "UNKNOWN"],
    ["TERMINATING", "TERMINATED"],
    ["TERMINATING", "UNKNOWN"],
    ["UNKNOWN", "SUBMITTED"],
    ["UNKNOWN", "RUNNING"],
    ["UNKNOWN", "STOPPED"],
    ["UNKNOWN", "TERMINATING"],
    ["UNKNOWN", "TERMINATED"],
  ]
  const key = (a: S, b: S) => `${a}->${b}`
  const allowedSet = new Set(allowed.map(([a, b]) => key(a, b)))
  for (const from of RunState.all) {
    for (const to of RunState.all) {
      const expected = from === to || allowedSet.has(key(from, to))
      strictEqual(RunState.canTransition(from, to), expected, key(from, to))
    }
  }
})

Deno.test("canTransition: nothing goes back to NEW, nothing leaves TERMINATED", () => {
  for (const s of RunState.all) {
    if (s !== "NEW") ok(!RunState.canTransition(s, "NEW"), `${s} -> NEW`)
    if (s !== "TERMINATED") ok(!RunState.canTransition("TERMINATED", s), `TERMINATED -> ${s}`)
  }
  // UNKNOWN may become any state except NEW (GC3Pie's table)
  for (const s of RunState.all) {
    strictEqual(RunState.canTransition("UNKNOWN", s), s !== "NEW", `UNKNOWN -> ${s}`)
  }
})

Deno.test("every state but TERMINATED can reach TERMINATED", () => {
  for (const start of RunState.all) {
    const seen = new Set<S>([start])
    const queue: Array<S> = [start]
    while (queue.length > 0) {
      const s = queue.shift()!
      for (const t of RunState.all) {
        if (!seen.has(t) && RunState.canTransition(s, t)) {
          seen.add(t)
          queue.push(t)
        }
      }
    }
    ok(seen.has("TERMINATED"), start)
  }
})

Deno.test("isDone, isFinal, isActive", () => {
  const table: ReadonlyArray<readonly [S, boolean, boolean, boolean]> = [
    // state, done, final, active
    ["NEW", false, false, false],
    ["SUBMITTED", false, false, true],
    ["RUNNING", false, false, true],
    ["STOPPED", false, false, true],
    ["TERMINATING", true, false, false],
    ["TERMINATED", true, true, false],
    ["UNKNOWN", false, false, true],
  ]
  strictEqual(table.length, RunState.all.length)
  for (const [s, done, final, active] of table) {
    strictEqual(RunState.isDone(s), done, `isDone ${s}`)
    strictEqual(RunState.isFinal(s), final, `isFinal ${s}`)
    strictEqual(RunState.isActive(s), active, `isActive ${s}`)
  }
})

Deno.test("a final state has no successor; an active state is not done", () => {
  for (const s of RunState.all) {
    if (RunState.isFinal(s)) {
      ok(RunState.all.every((t) => t === s || !RunState.canTransition(s, t)), s)
    }
    if (RunState.isActive(s)) ok(!RunState.isDone(s), s)
  }
})
