/**
 * What a program with a tracer and metrics sees of the library: a span per `Lrms` operation
 * with the resource, backend and job, child spans per transport call (the program's name, never
 * its arguments), batched calls as spans of their own linked to the operations they answer, and
 * the `lrms.*` metrics counting what the backend ran.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as LocalTransport from "../backends/local/LocalTransport.ts"
import * as Pbs from "../backends/pbs/Pbs.ts"
import * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"
import * as Application from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import * as Metrics from "../src/Metrics.ts"
import { recording, runTest, tempDir } from "./_effect.ts"
import { localConfig } from "./_shellcmd.ts"
import { counting } from "./_counting.ts"
import { pbsConfig } from "./_fake.ts"

const options = { sanitizeOps: false, sanitizeResources: false } as const

const named = (spans: ReadonlyArray<Tracer.Span>, name: string) =>
  spans.filter((s) => s.name === name)

const counter = (metric: Metric.Metric.Counter<number>, tags: Record<string, string>) =>
  Effect.map(
    Metric.value(
      Object.entries(tags).reduce((m, [k, v]) => Metric.tagged(m, k, v), metric),
    ),
    (state) => state.count,
  )

Deno.test({
  name: "observability: a shellcmd job's operations are spans, its commands counted",
  ...options,
  fn: () =>
    runTest(Effect.gen(function* () {
      const dir = yield* tempDir("lrms-otel-")
      const layer = Shellcmd.layer(localConfig(dir, 2, { name: "traced" })).pipe(
        Layer.provide(LocalTransport.layer),
        Layer.merge(Auth.none),
      )
      const secret = "s3cr3t-argument"
      const launch0 = yield* counter(Metrics.commands, { backend: "shellcmd", command: "launch" })
      const submitted0 = yield* counter(Metrics.jobsSubmitted, {
        backend: "shellcmd",
        outcome: "submitted",
      })
      const finished0 = yield* counter(Metrics.jobsFinished, {
        backend: "shellcmd",
        outcome: "success",
      })
      const tracked = Effect.map(
        Metric.value(Metric.tagged(Metrics.jobsTracked, "backend", "shellcmd")),
        (state) => state.value,
      )
      const tracked0 = yield* tracked
      const { spans, result: job } = yield* recording(
        Effect.gen(function* () {
          const app = yield* Application.make({
            arguments: ["sh", "-c", `echo ${secret} > out.txt`],
            stdout: "out.txt",
          })
          const job = yield* Lrms.submitJob(app)
          strictEqual(yield* tracked, tracked0 + 1, "a submitted job is tracked")
          const done = yield* Lrms.awaitTermination(job, { max: "200 millis" })
          strictEqual(yield* tracked, tracked0, "a job seen to end is no longer tracked")
          Deno.mkdirSync(`${dir}/out`)
          yield* Lrms.getResults(done, `${dir}/out`)
          yield* Lrms.free(done)
          return done
        }).pipe(Effect.provide(layer)),
      )

      const [submit] = named(spans, "Lrms.submitJob")
      ok(submit !== undefined, spans.map((s) => s.name).join(", "))
      deepStrictEqual(
        {
          resource: submit.attributes.get("lrms.resource"),
          backend: submit.attributes.get("lrms.backend"),
          id: submit.attributes.get("lrms.job.id"),
          native: submit.attributes.get("lrms.job.native_id"),
          state: submit.attributes.get("lrms.job.state"),
        },
        {
          resource: "traced",
          backend: "shellcmd",
          id: job.id,
          native: job.nativeId,
          state: "SUBMITTED",
        },
      )
      const updates = named(spans, "Lrms.updateJobState")
      ok(updates.length >= 1, "every poll is a span")
      strictEqual(updates.at(-1)!.attributes.get("lrms.job.state"), "TERMINATING")
      strictEqual(named(spans, "Lrms.getResults")[0]?.attributes.get("lrms.job.id"), job.id)
      strictEqual(named(spans, "Lrms.free").length, 1)

      // transport calls are child spans that name the program and never carry its arguments
      const execs = named(spans, "Transport.exec")
      ok(execs.length > 0)
      for (const e of execs) {
        strictEqual(e.attributes.get("lrms.transport"), "local")
        ok(typeof e.attributes.get("lrms.program") === "string")
        ok(!JSON.stringify([...e.attributes]).includes(secret), "no argument in a span")
      }
      const inSubmit = spans.filter((s) =>
        s.name.startsWith("Transport.") &&
        Option.exists(s.parent, (p) => p.spanId === submit.spanId)
      )
      ok(inSubmit.length > 0, "the submit's transport calls are its children")

      // a batched call is a root span of its own, linked to the operations it answers
      const launches = named(spans, "Shellcmd.launch")
      strictEqual(launches.length, 1)
      ok(Option.isNone(launches[0]!.parent), "a root span")
      ok(
        launches[0]!.links.some((l) => l.span.spanId === submit.spanId),
        "linked to the submitJob it answers",
      )

      strictEqual(
        yield* counter(Metrics.commands, { backend: "shellcmd", command: "launch" }),
        launch0 + 1,
        "one launch command",
      )
      strictEqual(
        yield* counter(Metrics.jobsSubmitted, { backend: "shellcmd", outcome: "submitted" }),
        submitted0 + 1,
      )
      strictEqual(
        yield* counter(Metrics.jobsFinished, { backend: "shellcmd", outcome: "success" }),
        finished0 + 1,
      )
      const snapshot = yield* Metric.snapshot
      ok(snapshot.some((p) => p.metricKey.name === "lrms.commands"), "in Metric.snapshot")
    })),
})

Deno.test({
  name: "observability: lrms.commands counts each scheduler call as the transport ran it",
  ...options,
  fn: () =>
    runTest(Effect.gen(function* () {
      const dir = yield* tempDir("lrms-otel-")
      const counts = new Map<string, number>()
      const layer = Pbs.layer(pbsConfig(`${dir}/spool`)).pipe(
        Layer.provide(counting(counts)),
        Layer.provide(LocalTransport.layer),
        Layer.merge(Auth.none),
      )
      const of = (command: string) => counter(Metrics.commands, { backend: "pbs", command })
      const [qsub0, qstat0] = [yield* of("qsub"), yield* of("qstat")]
      yield* Effect.gen(function* () {
        const a = yield* Application.make({ arguments: ["true"] })
        const jobs = yield* Effect.forEach(Array.from({ length: 12 }), () => Lrms.submitJob(a), {
          concurrency: "unbounded",
        })
        const done = yield* Effect.forEach(jobs, (j) => Lrms.awaitTermination(j), {
          concurrency: "unbounded",
        })
        yield* Effect.forEach(done, Lrms.free, { discard: true })
      }).pipe(Effect.provide(layer))
      const ran = (suffix: string) =>
        [...counts].filter(([k]) => k.endsWith(suffix)).reduce((n, [, c]) => n + c, 0)
      // the scripted qsub runs inside the submit script, once per job (the scripted PBS has no
      // arrays); qstat by its override's full path
      strictEqual((yield* of("qsub")) - qsub0, 12, "each qsub the submit shells ran is counted")
      const shells = counts.get("submit-script") ?? 0
      ok(shells >= 1 && shells < 12, `12 jobs of one moment share submit shells: ${shells}`)
      strictEqual((yield* of("qstat")) - qstat0, ran("/qstat"))
    })),
})
