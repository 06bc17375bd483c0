/**
 * What an Effect program with OpenTelemetry sees of effect-lrms: three jobs on this machine, with
 * every `Lrms` operation exported as a span (`Lrms.submitJob`, `Lrms.updateJobState`, …, with
 * `lrms.resource`, `lrms.backend`, `lrms.job.*`), every transport call as a child span naming only
 * the program, and the `lrms.*` metrics (commands run, their latency, submissions, jobs tracked
 * and ended), all printed by OpenTelemetry's console exporters.
 *
 *   deno run -A examples/otel.ts
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { ConsoleMetricExporter, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Schedule } from "effect"
import { Application, Auth, Lrms, Shellcmd } from "effect-lrms"

const Telemetry = NodeSdk.layer(() => ({
  resource: { serviceName: "effect-lrms-example" },
  spanProcessor: new SimpleSpanProcessor(new ConsoleSpanExporter()),
  metricReader: new PeriodicExportingMetricReader({
    exporter: new ConsoleMetricExporter(),
    exportIntervalMillis: 60_000, // exported once more when the layer closes
  }),
}))

const program = Effect.gen(function* () {
  const apps = yield* Effect.forEach(
    [0, 3, 7],
    (code) => Application.make({ arguments: ["sh", "-c", `exit ${code}`] }),
  )
  // a full machine answers with the recoverable MaximumCapacityReached: wait and retry
  const submit = (app: Application.Application) =>
    Lrms.submitJob(app).pipe(
      Effect.retry({ while: (e) => e.recoverable, schedule: Schedule.spaced("100 millis") }),
    )
  const jobs = yield* Effect.forEach(apps, submit, { concurrency: "unbounded" })
  const done = yield* Effect.forEach(jobs, (job) => Lrms.awaitTermination(job), {
    concurrency: "unbounded",
  })
  yield* Effect.forEach(done, Lrms.free, { discard: true })
  return done.map((job) => job.termination?.exitCode)
}).pipe(Effect.withSpan("example.sweep"))

const codes = await Effect.runPromise(
  program.pipe(
    Effect.provide(Shellcmd.layerLocal()),
    Effect.provide(Auth.none),
    Effect.provide(Telemetry),
  ),
)
console.log("exit codes:", codes)
