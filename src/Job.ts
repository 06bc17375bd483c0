/**
 * The serialisable record of one submitted job.
 *
 * A `Job` carries everything needed to find the job again from another process: the resource
 * and backend it went to, the native id, the remote directory, the application it runs, the last
 * known state with its history, how it ended and what it used. It is a `Schema.Class`, so
 * `Schema.encode(Job)` gives plain JSON and a later process can re-attach with `Schema.decode`.
 * Backends never mutate a job: every operation returns an updated copy.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict"
 * import { Effect, Schema } from "effect"
 * import { Application, Job } from "effect-lrms"
 *
 * const app = Effect.runSync(Application.make({ arguments: ["true"] }))
 * const job = Job.make({ resourceName: "local", backend: "shellcmd", application: app })
 * const json = JSON.stringify(Schema.encodeSync(Job.Job)(job))
 * const back = Schema.decodeUnknownSync(Job.Job)(JSON.parse(json))
 * deepStrictEqual(back.state, "NEW")
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Schema from "effect/Schema"
import { Application } from "./Application.ts"
import * as Quantity from "./Quantity.ts"
import { RunState } from "./RunState.ts"
import { describe, Termination } from "./Termination.ts"

/**
 * What a job used, as far as the resource reports it.
 *
 * @since 0.1.0
 * @category models
 */
export class Usage extends Schema.Class<Usage>("Usage")({
  /** Wall-clock time of the job. */
  duration: Schema.optional(Quantity.DurationFromInput),
  /** CPU time (user + system). */
  cpuTime: Schema.optional(Quantity.DurationFromInput),
  /** Largest resident memory. */
  maxUsedMemory: Schema.optional(Quantity.MemoryFromInput),
  /** Largest virtual memory. */
  maxUsedVirtualMemory: Schema.optional(Quantity.MemoryFromInput),
  /** Cores the job had. */
  cores: Schema.optional(Schema.Int),
  /** GPUs the job was allocated (SLURM's `AllocTRES`, not what it asked for). */
  gpus: Schema.optional(Schema.NonNegativeInt),
  /** Backend-specific figures, named with the backend's prefix (`shellcmd_minor_page_faults`). */
  extra: Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Finite) }),
}) {}

/**
 * One line of a job's history.
 *
 * @since 0.1.0
 * @category models
 */
export const HistoryEntry: Schema.Struct<
  { at: typeof Schema.Date; message: typeof Schema.String }
> = Schema.Struct({ at: Schema.Date, message: Schema.String })

/**
 * One line of a job's history.
 *
 * @since 0.1.0
 * @category models
 */
export type HistoryEntry = typeof HistoryEntry.Type

/**
 * A JSON value, for the backend's own bookkeeping on the job.
 *
 * @since 0.1.0
 * @category models
 */
export type Json = string | number | boolean | null | ReadonlyArray<Json> | {
  readonly [key: string]: Json
}

/**
 * The schema of a JSON value.
 *
 * @since 0.1.0
 * @category models
 */
export const Json: Schema.Schema<Json> = Schema.suspend(() =>
  Schema.Union(
    Schema.String,
    Schema.Finite,
    Schema.Boolean,
    Schema.Null,
    Schema.Array(Json),
    Schema.Record({ key: Schema.String, value: Json }),
  )
)

/**
 * The record of one job.
 *
 * @since 0.1.0
 * @category models
 */
export class Job extends Schema.Class<Job>("Job")({
  /** Our id for the job, unique across resources. */
  id: Schema.String,
  /** The name of the resource the job was submitted to. */
  resourceName: Schema.String,
  /** The backend type (`shellcmd`, `slurm`, ...). */
  backend: Schema.String,
  /** What the job runs. */
  application: Application,
  /** The resource manager's id for the job (a pid, a SLURM job id, ...). */
  nativeId: Schema.optional(Schema.String),
  /** The job's directory on the resource. */
  remoteDir: Schema.optional(Schema.String),
  /** The last known state. */
  state: RunState,
  /** How the job ended, once it has. */
  termination: Schema.optional(Termination),
  /** What the job used, once known. */
  usage: Schema.optional(Usage),
  /** When each state was entered. */
  timestamps: Schema.partial(Schema.Record({ key: RunState, value: Schema.Date })),
  /** What happened to the job, oldest first. */
  history: Schema.Array(HistoryEntry),
  /** The backend's own bookkeeping (start times, accounting windows, ...). */
  backendData: Schema.Record({ key: Schema.String, value: Json }),
}) {}

/**
 * The fields of a job built from an already valid job (and typed patches) need no second
 * validation; `Schema.decode` still validates everything that comes from outside.
 */
const trusted = { disableValidation: true } as const

/**
 * Makes a `NEW` job record for an application bound for a resource.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: {
  readonly resourceName: string
  readonly backend: string
  readonly application: Application
  readonly id?: string
  readonly now?: Date
}): Job => {
  const now = options.now ?? new Date()
  return new Job({
    id: options.id ?? crypto.randomUUID(),
    resourceName: options.resourceName,
    backend: options.backend,
    application: options.application,
    state: "NEW",
    timestamps: { NEW: now },
    history: [{ at: now, message: "Created" }],
    backendData: {},
  }, trusted)
}

/**
 * Returns a copy of the job with some fields changed.
 *
 * @since 0.1.0
 * @category combinators
 */
export const update = (
  job: Job,
  patch: Partial<Omit<ConstructorParameters<typeof Job>[0], "id">>,
): Job => new Job({ ...job, ...patch }, trusted)

/**
 * Returns the job in a new state, recording the time and a history line; the same state gives
 * the job back unchanged. Entering `TERMINATING` or `TERMINATED` with a termination also
 * records how the job ended.
 *
 * @since 0.1.0
 * @category combinators
 */
export const transition = (
  job: Job,
  state: RunState,
  options: {
    readonly message?: string
    readonly termination?: Termination
    readonly usage?: Usage
    readonly now?: Date
  } = {},
): Job => {
  const now = options.now ?? new Date()
  const termination = options.termination ?? job.termination
  if (state === job.state && options.termination === undefined && options.usage === undefined) {
    return job
  }
  const lines: Array<HistoryEntry> = []
  if (state !== job.state) {
    lines.push({ at: now, message: `Transition from state ${job.state} to state ${state}` })
  }
  if (options.message !== undefined) lines.push({ at: now, message: options.message })
  if (options.termination !== undefined && termination !== undefined) {
    lines.push({ at: now, message: `Job ${describe(termination)}` })
  }
  return new Job({
    ...job,
    state,
    ...(termination !== undefined ? { termination } : {}),
    ...(options.usage !== undefined ? { usage: options.usage } : {}),
    timestamps: state === job.state ? job.timestamps : { ...job.timestamps, [state]: now },
    history: [...job.history, ...lines],
  }, trusted)
}

/**
 * Appends a line to the job's history.
 *
 * @since 0.1.0
 * @category combinators
 */
export const log = (job: Job, message: string, now: Date = new Date()): Job =>
  new Job({ ...job, history: [...job.history, { at: now, message }] }, trusted)

/**
 * Returns the job with one backend bookkeeping key set.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withBackendData = (job: Job, data: Readonly<Record<string, Json>>): Job =>
  new Job({ ...job, backendData: { ...job.backendData, ...data } }, trusted)
