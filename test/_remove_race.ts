/**
 * A recursive remove that races a writer (a scheduler writing its report into a job directory
 * just after a cancel), for any transport: the remove must win once the writer stops.
 */
import { ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { exists, type TransportShape } from "../src/Transport.ts"

/** Creates up to 4000 files in `$1` (about 0.3 s), stopping once the directory is gone. */
const writer =
  'i=0; while [ $i -lt 2000 ]; do true 2>/dev/null >"$1/f$i" || exit 0; i=$((i+1)); done'

export const removeWhileWritten = (t: TransportShape, dir: string) =>
  Effect.gen(function* () {
    yield* t.mkdir(dir)
    const writing = yield* Effect.fork(t.exec(["sh", "-c", writer, "sh", dir]))
    // the writer has begun: `rm -r` alone would now find a directory that refills
    while ((yield* t.list(dir)).length < 50) yield* Effect.sleep("5 millis")
    yield* t.remove(dir, { recursive: true })
    strictEqual(yield* exists(t, dir), false, "the tree is gone")
    const done = yield* Fiber.join(writing)
    ok(done.exitCode === 0, `the writer ended: ${done.exitCode} ${done.stderr}`)
  })
