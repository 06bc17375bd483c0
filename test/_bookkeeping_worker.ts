/**
 * A process that contends for the shellcmd bookkeeping lock (test/bookkeeping_lock.test.ts runs
 * several at once). Under the lock it appends `enter`/`exit` lines to a shared log and takes a
 * core when one is free, as a submission does; a `slow` worker holds the lock for `holdMs`, a
 * `die` worker kills itself while holding it.
 */
import { NodeContext } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Bookkeeping from "../backends/shellcmd/Bookkeeping.ts"
import * as Auth from "../src/Auth.ts"

/** What a worker is told, as JSON in its first argument. */
export interface WorkerOptions {
  readonly name: string
  readonly role: "fast" | "slow" | "die"
  readonly dir: string
  readonly log: string
  readonly iterations: number
  readonly staleMs: number
  readonly maxCores: number
  readonly holdMs: number
}

const opts: WorkerOptions = JSON.parse(Deno.args[0]!)

const log = (what: string) =>
  Effect.sync(() =>
    // one short O_APPEND write per line: lines of several processes never mix
    Deno.writeTextFileSync(opts.log, `${Date.now()} ${opts.name} ${what}\n`, { append: true })
  )

const program = Effect.gen(function* () {
  const transport = yield* LocalTransport.make
  const store = Bookkeeping.make(transport, opts.dir, {
    staleAfter: opts.staleMs,
    waitAtMost: "60 seconds",
  })
  const mine: Array<Bookkeeping.Entry> = []
  for (let i = 0; i < opts.iterations; i++) {
    yield* store.withLock(Effect.gen(function* () {
      yield* log("enter")
      if (opts.role === "die") Deno.kill(Deno.pid, "SIGKILL")
      if (opts.role === "slow") yield* Effect.sleep(opts.holdMs)
      const before = Bookkeeping.used(yield* store.list).cores
      if (before < opts.maxCores) {
        const entry: Bookkeeping.Entry = {
          jobId: `${opts.name}-${i}`,
          resourceName: "test",
          cores: 1,
          memory: 0,
          jobDir: `${opts.dir}/none`,
          createdAt: Date.now(),
        }
        // leave room for another holder to slip in, if the lock let one
        yield* Effect.sleep(Math.floor(Math.random() * 5))
        yield* store.write(entry)
        mine.push(entry)
        yield* log(`reserve ${Bookkeeping.used(yield* store.list).cores}`)
      } else {
        yield* log(`full ${before}`)
      }
      if (i % 3 === 2 && mine.length > 0) yield* store.remove(mine.shift()!)
      yield* log("exit")
    }))
  }
})

await Effect.runPromise(
  program.pipe(Effect.provide(NodeContext.layer), Effect.provide(Auth.none)),
)
