import { ok, strictEqual } from "node:assert/strict"
import { NodeContext } from "@effect/platform-node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import fc from "fast-check"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Bookkeeping from "../backends/shellcmd/Bookkeeping.ts"
import * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import * as Job from "../src/Job.ts"
import * as Lrms from "../src/Lrms.ts"
import { runTest, tempDir } from "./_effect.ts"
import { localConfig } from "./_shellcmd.ts"
import { suite } from "./contract/LrmsContract.ts"

const config = localConfig

const layerFor = (
  dir: string,
  maxCores: number,
  extra: Partial<Shellcmd.ShellcmdConfigInput> = {},
) => Shellcmd.layer(config(dir, maxCores, extra)).pipe(Layer.provide(LocalTransport.layer))

suite("shellcmd+local", {
  makeLayer: ({ dir, maxCores }) => layerFor(dir, maxCores),
  capacityRefusal: true,
})

suite("shellcmd+local without GNU time", {
  makeLayer: ({ dir, maxCores }) => layerFor(dir, maxCores, { gnuTime: false }),
})

// ---------------------------------------------------------------------------------------------
// shellcmd-specific behaviour, with real processes
// ---------------------------------------------------------------------------------------------

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `shellcmd: ${name}`, sanitizeOps: false, sanitizeResources: false, fn })

/** The live (non-zombie) processes whose process group is `pgid`. */
const groupMembers = (pgid: number): Array<number> => {
  const out = new Deno.Command("ps", { args: ["-A", "-o", "pid=,pgid=,stat="] }).outputSync()
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3 && Number(f[1]) === pgid && !f[2]!.startsWith("Z"))
    .map((f) => Number(f[0]))
}

const withLocal = <A, E>(
  maxCores: number,
  body: (dir: string) => Effect.Effect<A, E, Lrms.Lrms | Auth.Auth>,
  extra: Partial<Shellcmd.ShellcmdConfigInput> = {},
) =>
  Effect.gen(function* () {
    const dir = yield* tempDir("lrms-shellcmd-")
    return yield* body(dir).pipe(
      Effect.provide(Layer.merge(layerFor(dir, maxCores, extra), Auth.none)),
    )
  })

const make = (input: Application.ApplicationInput) => Effect.orDie(Application.make(input))

test("a cancelled job leaves no process behind, children included", () =>
  runTest(withLocal(2, () =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* make({ arguments: ["sh", "-c", "sleep 300 & sleep 300 & wait"] }),
      )
      const pid = Number(job.nativeId)
      let members: Array<number> = []
      for (let i = 0; i < 100 && members.length < 4; i++) {
        yield* Effect.sleep("20 millis")
        members = groupMembers(pid)
      }
      ok(members.length >= 4, `wrapper, time, sh and two sleeps run (saw ${members.length})`)
      const cancelled = yield* Lrms.cancelJob(job)
      strictEqual(cancelled.state, "TERMINATED")
      strictEqual(groupMembers(pid).length, 0, "nothing of the job is left")
      yield* Lrms.free(cancelled)
    }))))

test("a job that ignores TERM is killed after the grace period", () =>
  runTest(withLocal(2, () =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* make({ arguments: ["sh", "-c", "trap '' TERM; sleep 300"] }),
      )
      yield* Effect.sleep("200 millis")
      const started = Date.now()
      const cancelled = yield* Lrms.cancelJob(job)
      const took = Date.now() - started
      ok(took >= 250, `waited the grace period (${took} ms)`)
      ok(took < 5000, `then killed (${took} ms)`)
      strictEqual(groupMembers(Number(job.nativeId)).length, 0)
      yield* Lrms.free(cancelled)
    }), { cancelGrace: "300 millis" })))

test("a job over its walltime is killed and reported as RemoteKill", () =>
  runTest(withLocal(2, () =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* make({ arguments: ["sleep", "300"], requestedWalltime: "1s" }),
      )
      const running = yield* Lrms.updateJobState(job)
      strictEqual(running.state, "RUNNING")
      yield* Effect.sleep("1100 millis")
      const done = yield* Lrms.updateJobState(running)
      strictEqual(done.state, "TERMINATING")
      strictEqual(done.termination?.signal, 122)
      ok(done.history.some((h) => h.message.includes("Walltime")), "history says why")
      strictEqual(groupMembers(Number(job.nativeId)).length, 0)
      yield* Lrms.free(done)
    }))))

test("a reused pid is not taken for the job", () =>
  runTest(withLocal(2, () =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* make({ arguments: ["sleep", "300"] }))
      const running = yield* Lrms.updateJobState(job)
      // Pretend the job's pid now belongs to another process: this test's own Deno process,
      // whose start comes after the (pretended) start of the wrapper an hour ago.
      const reused = Job.update(running, {
        nativeId: String(Deno.pid),
        backendData: { ...running.backendData, wrapperStart: Date.now() / 1000 - 3600 },
      })
      yield* Effect.sleep("50 millis")
      const seen = yield* Lrms.updateJobState(reused)
      strictEqual(seen.state, "TERMINATING", "a live process with another start time is not ours")
      strictEqual(seen.termination?.signal, 124)
      yield* Lrms.cancelJob(running)
    }))))

test("two backends on one bookkeeping directory share its capacity", () =>
  runTest(
    Effect.gen(function* () {
      const dir = yield* tempDir("lrms-shared-")
      const a = layerFor(dir, 1)
      const b = layerFor(dir, 1)
      const app = yield* make({ arguments: ["sleep", "300"] })
      const job = yield* Lrms.submitJob(app).pipe(Effect.provide(a))
      const refused = yield* Effect.flip(Lrms.submitJob(app).pipe(Effect.provide(b)))
      strictEqual(refused.reason, "MaximumCapacityReached")
      yield* Lrms.cancelJob(job).pipe(Effect.provide(a))
      const next = yield* Lrms.submitJob(app).pipe(Effect.provide(b))
      yield* Lrms.cancelJob(next).pipe(Effect.provide(b))
    }).pipe(Effect.provide(Auth.none)),
  ))

test("concurrent submissions never take more cores than there are", () =>
  runTest(withLocal(3, () =>
    Effect.gen(function* () {
      const app = yield* make({ arguments: ["sleep", "300"] })
      const results = yield* Effect.forEach(
        Array.from({ length: 8 }),
        () => Effect.either(Lrms.submitJob(app)),
        { concurrency: "unbounded" },
      )
      const ok_ = results.filter((r) => r._tag === "Right")
      const refused = results.filter((r) =>
        r._tag === "Left" && r.left.reason === "MaximumCapacityReached"
      )
      strictEqual(ok_.length, 3)
      strictEqual(refused.length, 5)
      for (const r of ok_) if (r._tag === "Right") yield* Lrms.cancelJob(r.right)
    }))))

test("a bookkeeping record whose wrapper died unseen is collected", () =>
  runTest(withLocal(1, (dir) =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* make({ arguments: ["sleep", "300"] }),
      )
      // the wrapper dies without writing its report, as in a crash: kill -9 its whole group
      yield* Effect.sleep("100 millis")
      for (const p of groupMembers(Number(job.nativeId))) {
        try {
          Deno.kill(p, "SIGKILL")
        } catch { /* gone already */ }
      }
      yield* Effect.sleep("100 millis")
      // no one polled the job; the next submission finds the core free again
      const next = yield* Lrms.submitJob(yield* make({ arguments: ["true"] }))
      ok(next.nativeId !== undefined)
      const lost = yield* Lrms.updateJobState(job)
      strictEqual(lost.state, "TERMINATING")
      strictEqual(lost.termination?.signal, 124, "no report: RemoteError")
      ok(dir.length > 0)
    }))))

test("interrupting a wait stops the waiting, not the job", () =>
  runTest(withLocal(2, () =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* make({ arguments: ["sleep", "300"] }))
      const waited = yield* Lrms.awaitTermination(job).pipe(
        Effect.timeout("300 millis"),
        Effect.either,
      )
      strictEqual(waited._tag, "Left")
      const still = yield* Lrms.updateJobState(job)
      strictEqual(still.state, "RUNNING")
      yield* Lrms.cancelJob(still)
    }))))

test("usage is reported with and without GNU time", () =>
  runTest(Effect.gen(function* () {
    for (const gnuTime of [true, false]) {
      const done = yield* withLocal(1, () =>
        Effect.gen(function* () {
          const job = yield* Lrms.submitJob(yield* make({ arguments: ["sleep", "0.3"] }))
          return yield* Lrms.awaitTermination(job)
        }), { gnuTime })
      const seconds = done.usage?.duration === undefined
        ? -1
        : Duration.toSeconds(done.usage.duration)
      ok(seconds >= 0.25 && seconds < 5, `wall time measured (${seconds} s, gnuTime ${gnuTime})`)
      strictEqual(done.usage?.cores, 1)
      if (gnuTime) ok((done.usage?.maxUsedMemory ?? 0) > 0, "GNU time reports max RSS")
    }
  })))

test("property: any argument string reaches the job unchanged", () =>
  runTest(withLocal(4, (dir) =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              fc.string({ unit: "grapheme" }),
              fc.string({ unit: "binary" }),
              fc.constantFrom("'", '"', "$(id)", "`id`", "$HOME", "*", "~", "-n", "\n", "\\", ""),
            ).map((s) => s.replaceAll("\0", "")),
            { maxLength: 6 },
          ),
          (args) =>
            Effect.runPromise(
              Effect.gen(function* () {
                const app = yield* make({
                  arguments: ["sh", "-c", 'printf "%s\\0" x "$@" >args.bin', "sh", ...args],
                })
                const done = yield* Lrms.awaitTermination(yield* Lrms.submitJob(app))
                strictEqual(done.termination?.exitCode, 0)
                const bytes = Deno.readFileSync(`${done.remoteDir}/args.bin`)
                const got = new TextDecoder().decode(bytes).split("\0").slice(1, -1)
                yield* Lrms.free(done)
                return got.length === args.length && got.every((g, i) => g === args[i])
              }).pipe(
                Effect.provide(Layer.merge(layerFor(dir, 4), Auth.none)),
                Effect.provide(NodeContext.layer),
              ),
            ),
        ),
        { numRuns: 30 },
      )
    ))))

test("cancelling a job whose pid was reused leaves the stranger alone", () =>
  runTest(withLocal(2, () =>
    Effect.gen(function* () {
      const job = yield* Lrms.submitJob(yield* make({ arguments: ["sleep", "300"] }))
      const running = yield* Lrms.updateJobState(job)
      // a process group leader, like our wrappers, so a group-wide kill would reach it
      const stranger = new Deno.Command("setsid", { args: ["sleep", "30"] }).spawn()
      try {
        const reused = Job.update(running, {
          nativeId: String(stranger.pid),
          backendData: { ...running.backendData, wrapperStart: Date.now() / 1000 - 3600 },
        })
        const cancelled = yield* Lrms.cancelJob(reused)
        strictEqual(cancelled.state, "TERMINATED")
        const ps = new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(stranger.pid)] })
          .outputSync()
        const stat = new TextDecoder().decode(ps.stdout).trim()
        ok(stat !== "" && !stat.startsWith("Z"), `the stranger still runs (stat ${stat})`)
      } finally {
        stranger.kill("SIGKILL")
        yield* Effect.promise(() => stranger.status)
        yield* Lrms.cancelJob(running)
      }
    }))))

test("the job's environment cannot change what the wrapper does", () =>
  runTest(withLocal(2, () =>
    Effect.gen(function* () {
      const app = yield* make({
        arguments: ["sh", "-c", 'echo "$LRMS_PRIV|$lrms_rc"; exit 4'],
        stdout: "out.txt",
        environment: { LRMS_PRIV: "/nonexistent", lrms_rc: "0", lrms_up0: "x" },
      })
      const done = yield* Lrms.awaitTermination(yield* Lrms.submitJob(app))
      strictEqual(done.state, "TERMINATING")
      strictEqual(done.termination?.exitCode, 4, "the wrapper's report is where it belongs")
      strictEqual(Deno.readTextFileSync(`${done.remoteDir}/out.txt`), "/nonexistent|0\n")
      yield* Lrms.free(done)
    }))))

test("a program is always run, never a shell builtin of the wrapper", () =>
  runTest(withLocal(2, () =>
    Effect.gen(function* () {
      const done = yield* Lrms.awaitTermination(
        yield* Lrms.submitJob(yield* make({ arguments: ["exit", "3"] })),
      )
      strictEqual(done.state, "TERMINATING")
      strictEqual(done.termination?.exitCode, 127, "there is no program called exit")
      yield* Lrms.free(done)
    }), { gnuTime: false })))

test("layerLocal: the first submission already sees the host's cores", () =>
  runTest(Effect.gen(function* () {
    const dir = yield* tempDir("lrms-local-first-")
    const cores = navigator.hardwareConcurrency
    const done = yield* Effect.gen(function* () {
      const job = yield* Lrms.submitJob(
        yield* make({ arguments: ["true"], requestedCores: cores }),
      )
      return yield* Lrms.awaitTermination(job)
    }).pipe(
      Effect.provide(Shellcmd.layerLocal({ spooldir: `${dir}/spool`, resourceDir: `${dir}/bk` })),
      Effect.provide(Auth.none),
    )
    strictEqual(done.termination?.exitCode, 0)
    strictEqual(done.usage?.cores, cores)
  })))

test("a bookkeeping lock left by a dead process is taken over", () =>
  runTest(withLocal(1, (dir) =>
    Effect.gen(function* () {
      // as if a submitter died between taking and releasing the lock: its claim stays
      const claims = `${dir}/bookkeeping/${Bookkeeping.CLAIMS_DIR}`
      Deno.mkdirSync(claims, { recursive: true })
      Deno.writeTextFileSync(`${claims}/${Bookkeeping.claimName("d".repeat(32), 7)}`, "")
      const started = Date.now()
      const job = yield* Lrms.submitJob(yield* make({ arguments: ["true"] }))
      const waited = Date.now() - started
      ok(waited >= 9_000 && waited < 20_000, `took the stale lock over after ${waited} ms`)
      const done = yield* Lrms.awaitTermination(job)
      strictEqual(done.termination?.exitCode, 0)
      strictEqual(
        [...Deno.readDirSync(claims)].length,
        0,
        "the stale lock is gone and the new one released",
      )
    }))))
