/**
 * The contract every `Lrms` layer passes: real jobs through submit → RUNNING → TERMINATING,
 * exit codes and signals, outputs, peek while running, cancel, free, resource status, capacity
 * and bad input. A backend's test file calls {@linkcode suite} with a factory for its layer.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Sink from "effect/Sink"
import type * as Scope from "effect/Scope"
import * as Application from "../../src/Application.ts"
import * as Auth from "../../src/Auth.ts"
import * as Job from "../../src/Job.ts"
import * as Lrms from "../../src/Lrms.ts"
import type { LrmsError } from "../../src/LrmsError.ts"
import * as RunState from "../../src/RunState.ts"
import * as Termination from "../../src/Termination.ts"
import { type Platform, runFailure, runTest, tempDir } from "../_effect.ts"

/** What the suite needs from a backend. */
export interface ContractOptions {
  /** Builds the backend's layer; `dir` is a fresh directory the backend may use for its files. */
  readonly makeLayer: (options: {
    readonly dir: string
    readonly maxCores: number
  }) => Layer.Layer<Lrms.Lrms, LrmsError, Platform>
  /** The `Auth` the calls run with (default `Auth.none`). */
  readonly auth?: Layer.Layer<Auth.Auth, LrmsError, Platform>
  /** Whether a full resource refuses submissions with `MaximumCapacityReached` (shellcmd). */
  readonly capacityRefusal?: boolean
  /**
   * Whether other jobs share the resource (a batch scheduler, where the SSH and local suites run
   * at once): the status test then waits for the job to run and does not do arithmetic on free
   * slots.
   */
  readonly sharedResource?: boolean
  /** Whether a signal that kills the job is reported as that signal. */
  readonly reportsSignals?: boolean
  /** How long to wait for a job to end. */
  readonly timeout?: Duration.DurationInput
  /** Deno test options shared by every test (e.g. `ignore` when the server is down). */
  readonly denoTest?: Omit<Deno.TestDefinition, "name" | "fn">
}

type Env = Lrms.Lrms | Auth.Auth | Scope.Scope

/** Registers the contract tests for one backend. */
export const suite = (name: string, options: ContractOptions): void => {
  const withLrms = <A, E>(
    maxCores: number,
    body: (dir: string) => Effect.Effect<A, E, Env>,
  ) =>
    Effect.gen(function* () {
      const dir = yield* tempDir("lrms-contract-")
      const layer = Layer.merge(options.makeLayer({ dir, maxCores }), options.auth ?? Auth.none)
      return yield* body(dir).pipe(Effect.provide(layer))
    })
  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      sanitizeOps: false,
      sanitizeResources: false,
      ...options.denoTest,
      fn,
    })
  const wait = (job: Job.Job) =>
    Lrms.awaitTermination(job, { max: "500 millis" }).pipe(
      Effect.timeoutFail({
        duration: options.timeout ?? "60 seconds",
        onTimeout: () => new Error(`job ${job.id} did not end in time`),
      }),
      Effect.orDie,
    )
  const app = (input: Application.ApplicationInput) => Effect.orDie(Application.make(input))
  const read = (path: string) => Effect.sync(() => Deno.readTextFileSync(path))

  test("a job that exits 0 goes SUBMITTED → TERMINATING with exit code 0 and its output", () =>
    runTest(withLrms(2, (dir) =>
      Effect.gen(function* () {
        const a = yield* app({ arguments: ["/bin/echo", "hello", "world"], stdout: "out.txt" })
        const job = yield* Lrms.submitJob(a)
        strictEqual(job.state, "SUBMITTED")
        ok(job.nativeId !== undefined && job.nativeId !== "", "a native id is recorded")
        const done = yield* wait(job)
        strictEqual(done.state, "TERMINATING")
        deepStrictEqual(
          { exitCode: done.termination?.exitCode, signal: done.termination?.signal },
          { exitCode: 0, signal: 0 },
        )
        ok(done.history.some((h) => h.message.includes("TERMINATING")), "history records the end")
        const out = `${dir}/out`
        yield* Effect.sync(() => Deno.mkdirSync(out))
        const report = yield* Lrms.getResults(done, out)
        strictEqual(yield* read(`${out}/out.txt`), "hello world\n")
        strictEqual(report.copied.length, 1)
        const { job: fetched } = yield* Lrms.retrieve(done, out)
        strictEqual(fetched.state, "TERMINATED")
        yield* Lrms.free(fetched)
      }))))

  test("a job that exits 3 ends with exit code 3", () =>
    runTest(withLrms(2, () =>
      Effect.gen(function* () {
        const job = yield* Lrms.submitJob(yield* app({ arguments: ["sh", "-c", "exit 3"] }))
        const done = yield* wait(job)
        strictEqual(done.termination?.exitCode, 3)
        strictEqual(done.termination?.signal, 0)
        ok(!Termination.isSuccess(done.termination!))
        yield* Lrms.free(done)
      }))))

  if (options.reportsSignals ?? true) {
    test("a job killed by a signal reports that signal", () =>
      runTest(withLrms(2, () =>
        Effect.gen(function* () {
          const job = yield* Lrms.submitJob(yield* app({ arguments: ["sh", "-c", "kill -9 $$"] }))
          const done = yield* wait(job)
          strictEqual(done.termination?.signal, 9)
          strictEqual(done.termination?.exitCode, null)
          yield* Lrms.free(done)
        }))))
  }

  test("inputs are staged, stdin is fed, the environment and arguments arrive unchanged", () =>
    runTest(withLrms(2, (dir) =>
      Effect.gen(function* () {
        yield* Effect.sync(() => {
          Deno.writeTextFileSync(`${dir}/in put.txt`, "line one\nline two\n")
          Deno.mkdirSync(`${dir}/tree/sub`, { recursive: true })
          Deno.writeTextFileSync(`${dir}/tree/sub/leaf`, "leaf")
        })
        const a = yield* app({
          arguments: [
            "sh",
            "-c",
            'cat; printf "%s|" "$1" "$2" "$MY_VAR" >args.txt; cat data/in\\ put.txt tree/sub/leaf >copy.txt',
            "sh",
            "it's $HOME",
            "`date` *",
          ],
          inputs: { [`${dir}/in put.txt`]: "data/in put.txt", [`${dir}/tree`]: "tree" },
          stdin: `${dir}/in put.txt`,
          stdout: "stdout.txt",
          outputs: ["args.txt", "copy.txt"],
          environment: { MY_VAR: "$(echo pwned) 'q'" },
        })
        const done = yield* wait(yield* Lrms.submitJob(a))
        strictEqual(done.termination?.exitCode, 0)
        const out = `${dir}/out`
        yield* Effect.sync(() => Deno.mkdirSync(out))
        yield* Lrms.getResults(done, out)
        strictEqual(yield* read(`${out}/stdout.txt`), "line one\nline two\n")
        strictEqual(yield* read(`${out}/args.txt`), "it's $HOME|`date` *|$(echo pwned) 'q'|")
        strictEqual(yield* read(`${out}/copy.txt`), "line one\nline two\nleaf")
        yield* Lrms.free(done)
      }))))

  test("a 2-process job under the multiple launcher runs 2 copies; the first failure is its exit code", () =>
    runTest(withLrms(2, (dir) =>
      Effect.gen(function* () {
        const weird = "it's $HOME\n`date` *"
        const a = yield* app({
          arguments: [
            "sh",
            "-c",
            'printf "%s|%s|%s|%s\\n" "$LRMS_RANK" "$LRMS_SIZE" "$OMP_NUM_THREADS" "$1"; ' +
            '[ "$LRMS_RANK" = 0 ] || exit 3',
            "sh",
            weird,
          ],
          processes: 2,
          launcher: "multiple",
          stdout: "out.txt",
        })
        strictEqual(a.requestedCores, 2)
        const done = yield* wait(yield* Lrms.submitJob(a))
        strictEqual(done.termination?.exitCode, 3, "copy 1's exit status")
        const out = `${dir}/out`
        yield* Effect.sync(() => Deno.mkdirSync(out))
        yield* Lrms.getResults(done, out)
        const text = yield* read(`${out}/out.txt`)
        // each copy prints its record (the argument spans two lines): sort whole records
        const records = text.split(/\n(?=\d\|)/).map((r) => r.replace(/\n$/, "")).sort()
        deepStrictEqual(records, [`0|2|1|${weird}`, `1|2|1|${weird}`])
        yield* Lrms.free(done)
      }))))

  test("getResults copies directories, never alters a local file without overwrite", () =>
    runTest(withLrms(2, (dir) =>
      Effect.gen(function* () {
        const a = yield* app({
          arguments: ["sh", "-c", "mkdir -p res/deep && echo new >res/a && echo deep >res/deep/b"],
          outputs: { res: "results" },
        })
        const done = yield* wait(yield* Lrms.submitJob(a))
        const out = `${dir}/out`
        yield* Effect.sync(() => {
          Deno.mkdirSync(`${out}/results`, { recursive: true })
          Deno.writeTextFileSync(`${out}/results/a`, "old")
        })
        const first = yield* Lrms.getResults(done, out, { overwrite: false })
        strictEqual(yield* read(`${out}/results/a`), "old")
        strictEqual(yield* read(`${out}/results/deep/b`), "deep\n")
        deepStrictEqual(first.skipped.map((s) => s.reason), ["exists"])
        yield* Lrms.getResults(done, out, { overwrite: true, changedOnly: true })
        strictEqual(yield* read(`${out}/results/a`), "new\n")
        yield* Lrms.free(done)
      }))))

  test("peek reads a running job's output, from the start and from the end", () =>
    runTest(withLrms(2, (dir) =>
      Effect.gen(function* () {
        const a = yield* app({
          arguments: ["sh", "-c", "printf 0123456789 >log.txt; sleep 30"],
          stdout: "stdout.txt",
        })
        let job = yield* Lrms.submitJob(a)
        // wait until the file is there
        for (let i = 0; i < 200; i++) {
          job = yield* Lrms.updateJobState(job)
          const size = yield* Lrms.peek(job, "log.txt", Sink.drain).pipe(
            Effect.catchAll(() => Effect.succeed(0)),
          )
          if (size === 10) break
          yield* Effect.sleep("50 millis")
        }
        ok(RunState.isActive(job.state), `job is still running (${job.state})`)
        const chunks: Array<Uint8Array> = []
        const n = yield* Lrms.peek(
          job,
          "log.txt",
          Sink.forEach((c: Uint8Array) => Effect.sync(() => chunks.push(c))),
          { offset: -4 },
        )
        strictEqual(n, 4)
        strictEqual(new TextDecoder().decode(chunks[0]), "6789")
        const path = `${dir}/peek.txt`
        strictEqual(yield* Lrms.peek(job, "log.txt", path, { offset: 2, size: 3 }), 3)
        strictEqual(yield* read(path), "234")
        const cancelled = yield* Lrms.cancelJob(job)
        strictEqual(cancelled.state, "TERMINATED")
        strictEqual(cancelled.termination?.signal, Termination.Signals.Cancelled)
        yield* Lrms.free(cancelled)
      }))))

  test("cancel ends a running job; free refuses a running job", () =>
    runTest(withLrms(2, () =>
      Effect.gen(function* () {
        const job = yield* Lrms.submitJob(yield* app({ arguments: ["sleep", "60"] }))
        const running = yield* Lrms.updateJobState(job)
        const refused = yield* Effect.flip(Lrms.free(running))
        strictEqual(refused.reason, "InvalidState")
        const cancelled = yield* Lrms.cancelJob(running)
        strictEqual(cancelled.state, "TERMINATED")
        strictEqual(cancelled.termination?.signal, Termination.Signals.Cancelled)
        yield* Lrms.free(cancelled)
      }))))

  test("resource status counts running jobs", () =>
    runTest(withLrms(3, () =>
      Effect.gen(function* () {
        const shared = options.sharedResource ?? false
        let before = yield* Lrms.getResourceStatus
        // a scheduler may still be ending the jobs of the previous tests (see below)
        for (let i = 0; shared && i < 120 && before.userRun > 0; i++) {
          yield* Effect.sleep("500 millis")
          before = yield* Lrms.getResourceStatus
        }
        let job = yield* Lrms.submitJob(
          yield* app({ arguments: ["sleep", "30"], requestedCores: 2 }),
        )
        // a scheduler may take a moment to start it
        while (shared && job.state === "SUBMITTED") {
          yield* Effect.sleep("100 millis")
          job = yield* Lrms.updateJobState(job)
        }
        const during = yield* Lrms.getResourceStatus
        ok(
          during.userRun >= before.userRun + 1,
          `the job is counted: job ${job.state}, userRun ${before.userRun} → ${during.userRun}`,
        )
        if (!shared && before.freeSlots >= 0) {
          ok(during.freeSlots <= before.freeSlots - 2, "2 cores taken")
        }
        const cancelled = yield* Lrms.cancelJob(job)
        yield* Lrms.free(cancelled)
        let after = yield* Lrms.getResourceStatus
        // a scheduler may still be ending it for a while (OpenPBS's MoM retries the delivery of
        // the output files of a freed job directory for about 30 s, the job in state E)
        for (let i = 0; shared && i < 120 && after.userRun > before.userRun; i++) {
          yield* Effect.sleep("500 millis")
          after = yield* Lrms.getResourceStatus
        }
        if (shared) {
          // another job of the user may have ended meanwhile
          ok(after.userRun <= before.userRun, `userRun ${before.userRun} → ${after.userRun}`)
        } else strictEqual(after.userRun, before.userRun)
      }))))

  if (options.capacityRefusal ?? false) {
    test("a full resource refuses a job with the recoverable MaximumCapacityReached", () =>
      runTest(withLrms(1, () =>
        Effect.gen(function* () {
          const first = yield* Lrms.submitJob(yield* app({ arguments: ["sleep", "30"] }))
          const refused = yield* Effect.flip(
            Lrms.submitJob(yield* app({ arguments: ["true"] })),
          )
          strictEqual(refused.reason, "MaximumCapacityReached")
          strictEqual(refused.recoverable, true)
          const cancelled = yield* Lrms.cancelJob(first)
          yield* Lrms.free(cancelled)
          const second = yield* Lrms.submitJob(yield* app({ arguments: ["true"] }))
          const done = yield* wait(second)
          strictEqual(done.termination?.exitCode, 0)
          yield* Lrms.free(done)
        }))))
  }

  test("bad input fails with a typed error that names the field", async () => {
    const sftp = await runFailure(withLrms(2, () =>
      Effect.gen(function* () {
        const a = yield* app({ arguments: ["true"], inputs: { "sftp://host/x": "x" } })
        return yield* Lrms.submitJob(a)
      })))
    strictEqual(sftp.reason, "UnsupportedProtocol")
    ok(sftp.message.includes("inputs.0.source"), sftp.message)
    const cores = await runFailure(withLrms(2, () =>
      Effect.gen(function* () {
        return yield* Lrms.submitJob(yield* app({ arguments: ["true"], requestedCores: 64 }))
      })))
    strictEqual(cores.reason, "SubmitRejected")
    ok(cores.message.includes("requestedCores"), cores.message)
    const negative = await runFailure(Application.make({ arguments: ["true"], requestedCores: -1 }))
    strictEqual(negative.reason, "InvalidArgument")
    ok(negative.message.includes("requestedCores"), negative.message)
    const unit = await runFailure(
      Application.make({ arguments: ["true"], requestedMemory: "2 XB" }),
    )
    ok(unit.message.includes("requestedMemory"), unit.message)
    const escape = await runFailure(Application.make({ arguments: ["true"], outputs: ["../x"] }))
    strictEqual(escape.reason, "InvalidArgument")
    ok(escape.message.includes("outputs.0"), escape.message)
    const missing = await runFailure(withLrms(2, (dir) =>
      Effect.gen(function* () {
        const a = yield* app({ arguments: ["true"], inputs: [`${dir}/does-not-exist`] })
        return yield* Lrms.submitJob(a)
      })))
    strictEqual(missing.reason, "DataStaging")
    ok(missing.message.includes("inputs.0.source"), missing.message)
  })

  test("operations on a job of another resource or in the wrong state are refused", async () => {
    const err = await runFailure(withLrms(2, () =>
      Effect.gen(function* () {
        const a = yield* app({ arguments: ["true"] })
        const foreign = Job.make({ resourceName: "elsewhere", backend: "x", application: a })
        return yield* Lrms.updateJobState(Job.update(foreign, { state: "RUNNING" }))
      })))
    strictEqual(err.reason, "InvalidArgument")
    const fresh = await runFailure(withLrms(2, () =>
      Effect.gen(function* () {
        const lrms = yield* Lrms.Lrms
        const a = yield* app({ arguments: ["true"] })
        return yield* lrms.getResults(
          Job.make({ resourceName: lrms.resource.name, backend: "x", application: a }),
          "/tmp",
        )
      })))
    strictEqual(fresh.reason, "InvalidState")
  })
}
