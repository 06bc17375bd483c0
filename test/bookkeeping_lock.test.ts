/**
 * The bookkeeping lock across real processes: claims named by token, refreshed by a heartbeat
 * while held, broken only once their heartbeat stopped, released only by their holder.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import { NodeContext } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Bookkeeping from "../backends/shellcmd/Bookkeeping.ts"
import * as Auth from "../src/Auth.ts"
import type { WorkerOptions } from "./_bookkeeping_worker.ts"
import { runTest, tempDir } from "./_effect.ts"

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `bookkeeping lock: ${name}`, sanitizeOps: false, sanitizeResources: false, fn })

const worker = new URL("./_bookkeeping_worker.ts", import.meta.url).pathname

const spawn = (options: WorkerOptions) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", worker, JSON.stringify(options)],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn()

interface Line {
  readonly at: number
  readonly name: string
  readonly what: string
  readonly arg: number | undefined
}

const readLog = (path: string): Array<Line> =>
  Deno.readTextFileSync(path).split("\n").filter((l) => l !== "").map((l) => {
    const [at, name, what, arg] = l.split(" ")
    return {
      at: Number(at),
      name: name!,
      what: what!,
      arg: arg === undefined ? undefined : Number(arg),
    }
  })

const waitUntil = async (what: string, cond: () => boolean, ms = 30_000) => {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

const exists = (path: string) => {
  try {
    Deno.statSync(path)
    return true
  } catch {
    return false
  }
}

Deno.test("claimName and parseClaim", () => {
  const token = "0123456789abcdef0123456789abcdef"
  deepStrictEqual(Bookkeeping.parseClaim(Bookkeeping.claimName(token, 42)), { token, beat: 42 })
  strictEqual(Bookkeeping.parseClaim("x~1"), undefined)
  strictEqual(Bookkeeping.parseClaim(`${token}~`), undefined)
  strictEqual(Bookkeeping.parseClaim(`.${token}~1.tmp`), undefined)
})

test("processes never hold it together; a slow holder past the limit keeps it; capacity holds", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "lrms-lock-" })
  try {
    const log = `${dir}/log`
    Deno.writeTextFileSync(log, "")
    const staleMs = 600
    const holdMs = 2_500 // four times the staleness limit
    const maxCores = 4
    const base = { dir: `${dir}/bk`, log, staleMs, maxCores, holdMs }
    const slow = spawn({ ...base, name: "slow", role: "slow", iterations: 1 })
    await waitUntil("the slow holder", () => readLog(log).some((l) => l.name === "slow"))
    const fast = Array.from(
      { length: 4 },
      (_, i) => spawn({ ...base, name: `fast${i}`, role: "fast", iterations: 12 }),
    )
    const codes = await Promise.all([slow, ...fast].map((p) => p.status.then((s) => s.code)))
    deepStrictEqual(codes, [0, 0, 0, 0, 0])

    const lines = readLog(log)
    // enter and exit alternate, each exit by the process that entered last: no two holders
    let holder: Line | undefined
    for (const l of lines) {
      if (l.what === "enter") {
        strictEqual(holder, undefined, `${l.name} entered while ${holder?.name} held the lock`)
        holder = l
      } else if (l.what === "exit") {
        strictEqual(holder?.name, l.name, `${l.name} left a lock it did not hold`)
        holder = undefined
      } else strictEqual(holder?.name, l.name, `${l.name} worked without the lock`)
    }
    strictEqual(holder, undefined)
    strictEqual(lines.filter((l) => l.what === "enter").length, 1 + 4 * 12)
    // the slow holder kept it for its whole hold, well past the limit, while the others waited
    const slowEnter = lines.find((l) => l.name === "slow" && l.what === "enter")!
    const slowExit = lines.find((l) => l.name === "slow" && l.what === "exit")!
    ok(slowExit.at - slowEnter.at >= holdMs, `held ${slowExit.at - slowEnter.at} ms`)
    strictEqual(lines.indexOf(slowExit), lines.indexOf(slowEnter) + 2, "nobody broke in")
    // capacity: every count read under the lock, right after a reservation, is within bounds
    const counts = lines.filter((l) => l.what === "reserve").map((l) => l.arg!)
    ok(counts.length >= maxCores, `reservations were taken (${counts.length})`)
    ok(counts.every((c) => c <= maxCores), `over-committed: ${counts.join(",")}`)
    ok(lines.some((l) => l.what === "full"), "the resource was full at times")
    const left = Bookkeeping.active([...Deno.readDirSync(`${dir}/bk`)].map((e) => e.name))
    ok(left.length <= maxCores)
    deepStrictEqual(
      [...Deno.readDirSync(`${dir}/bk/${Bookkeeping.CLAIMS_DIR}`)].map((e) => e.name),
      [],
      "every claim was released",
    )
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

test("a holder killed while holding it is broken after the limit, not before", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "lrms-lock-" })
  try {
    const log = `${dir}/log`
    Deno.writeTextFileSync(log, "")
    const staleMs = 800
    const base = { dir: `${dir}/bk`, log, staleMs, maxCores: 2, holdMs: 0 }
    const dead = await spawn({ ...base, name: "dead", role: "die", iterations: 1 }).status
    strictEqual(dead.signal, "SIGKILL")
    const claims = [...Deno.readDirSync(`${dir}/bk/${Bookkeeping.CLAIMS_DIR}`)]
    strictEqual(claims.length, 1, "the dead holder's claim stays")
    const started = Date.now()
    const next = await spawn({ ...base, name: "next", role: "fast", iterations: 1 }).status
    strictEqual(next.code, 0)
    const entered = readLog(log).find((l) => l.name === "next" && l.what === "enter")!
    const waited = entered.at - started
    ok(waited >= staleMs, `broke the dead claim after ${waited} ms (limit ${staleMs})`)
    ok(waited < staleMs + 5_000, `and soon after (${waited} ms)`)
    deepStrictEqual([...Deno.readDirSync(`${dir}/bk/${Bookkeeping.CLAIMS_DIR}`)], [])
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

test("a holder whose claim was broken stops, and its release leaves the new holder's claim", () =>
  runTest(
    Effect.gen(function* () {
      const dir = yield* tempDir("lrms-lock-")
      const transport = yield* LocalTransport.make
      const options = { staleAfter: "500 millis", waitAtMost: "10 seconds" } as const
      // two stores: two processes as far as the lock is concerned
      const a = Bookkeeping.make(transport, dir, options)
      const b = Bookkeeping.make(transport, dir, options)
      const claimsDir = `${dir}/${Bookkeeping.CLAIMS_DIR}`
      const claims = () =>
        exists(claimsDir) ? [...Deno.readDirSync(claimsDir)].map((e) => e.name) : []
      let entered = false
      const holdingA = yield* Effect.fork(Effect.either(a.withLock(
        Effect.sync(() => (entered = true)).pipe(Effect.zipRight(Effect.sleep("20 seconds"))),
      )))
      // A holds the lock (not merely wrote its claim: a claim removed while A still acquires
      // only makes A try again)
      yield* Effect.promise(() => waitUntil("A holds", () => entered && claims().length === 1))
      // as a breaker does once A's heartbeat has not moved for the limit (A stalled); A's
      // heartbeat may rename the claim between the listing and the removal: list again then
      let claimA: string | undefined
      while (claimA === undefined) {
        const [name] = claims()
        try {
          Deno.removeSync(`${claimsDir}/${name}`)
          claimA = name
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e
        }
      }
      const seen = yield* b.withLock(Effect.gen(function* () {
        const mine = claims()
        strictEqual(mine.length, 1)
        strictEqual(
          Bookkeeping.parseClaim(mine[0]!)?.token === Bookkeeping.parseClaim(claimA!)?.token,
          false,
        )
        // A finds out at its next heartbeat, stops its work and releases
        const outcome = yield* Fiber.join(holdingA)
        strictEqual(outcome._tag, "Left")
        if (outcome._tag === "Left") {
          strictEqual(outcome.left.reason, "Timeout")
          ok(outcome.left.message.includes("lost the bookkeeping lock"), outcome.left.message)
        }
        // B still holds: A's release removed nothing of B's
        const after = claims()
        strictEqual(after.length, 1, "B's claim is still there")
        strictEqual(
          Bookkeeping.parseClaim(after[0]!)?.token,
          Bookkeeping.parseClaim(mine[0]!)?.token,
        )
        return after
      }))
      strictEqual(seen.length, 1)
      deepStrictEqual(claims(), [], "B released its claim")
    }).pipe(Effect.provide(NodeContext.layer), Effect.provide(Auth.none)),
  ))
