/**
 * Every configured resource by name, each with its own `Auth`, and GC3Pie's brokering:
 * {@linkcode ResourcesShape.select} keeps the resources that can run an application and orders
 * them by how busy they are; {@linkcode ResourcesShape.submit} tries them in that order.
 *
 * Build it from a `gc3pie.conf` file ({@linkcode layerFile}; GC3Pie's files work unchanged), from
 * Effect's `Config` ({@linkcode layerConfig}: the file named by `GC3PIE_CONF`, default
 * `~/.gc3/gc3pie.conf`), or from layers you build yourself ({@linkcode layer}).
 *
 * @example
 * ```ts ignore
 * import { Effect } from "effect"
 * import { Application } from "effect-lrms"
 * import { Resources } from "effect-lrms/config"
 *
 * const program = Effect.gen(function* () {
 *   const resources = yield* Resources.Resources
 *   const app = yield* Application.make({ arguments: ["hostname"], requestedCores: 4 })
 *   const { job, tried } = yield* resources.submit(app)
 *   console.log(`submitted to ${job.resourceName}`, tried)
 * })
 * Effect.runPromise(program.pipe(Effect.provide(Resources.layerFile("~/.gc3/gc3pie.conf"))))
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Context from "effect/Context"
import * as EffectConfig from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Application } from "../src/Application.ts"
import * as Auth from "../src/Auth.ts"
import * as Gc3pieConfig from "../src/Gc3pieConfig.ts"
import type * as Job from "../src/Job.ts"
import { checkApplication, Lrms, type LrmsShape } from "../src/Lrms.ts"
import { isAmbiguous, LrmsError } from "../src/LrmsError.ts"
import type { ResourceStatus } from "../src/Resource.ts"
import type { Transport } from "../src/Transport.ts"
import * as LocalTransport from "./local/LocalTransport.ts"
import * as Lsf from "./lsf/Lsf.ts"
import * as Pbs from "./pbs/Pbs.ts"
import * as Sge from "./sge/Sge.ts"
import * as Shellcmd from "./shellcmd/Shellcmd.ts"
import * as Slurm from "./slurm/Slurm.ts"
import * as SshTransport from "./ssh/SshTransport.ts"

/**
 * One configured resource: its `Lrms` and the `Auth` its calls run with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  /** The resource's name. */
  readonly name: string
  /** Its service. */
  readonly lrms: LrmsShape
  /** The credential its calls run with. */
  readonly auth: Auth.AuthShape
}

/**
 * Why a resource was not chosen for an application.
 *
 * @since 0.1.0
 * @category models
 */
export interface Skipped {
  /** The resource's name. */
  readonly name: string
  /** Why it was left out or refused the job. */
  readonly reason: string
  /** The error it failed with, as a value (its `reason` and `recoverable` fields). */
  readonly error: LrmsError
}

/**
 * What {@linkcode ResourcesShape.select} found: the candidates, best first, with their status,
 * and the resources left out with the reason.
 *
 * @since 0.1.0
 * @category models
 */
export interface Selection {
  /** The resources that can run the application, best first, with their status. */
  readonly candidates: ReadonlyArray<{ readonly entry: Entry; readonly status: ResourceStatus }>
  /** The resources left out, with the reason. */
  readonly skipped: ReadonlyArray<Skipped>
}

/**
 * The configured resources.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResourcesShape {
  /** Every resource, in configuration order. */
  readonly entries: ReadonlyArray<Entry>
  /** One resource by name; `InvalidArgument` naming the known ones otherwise. */
  readonly get: (name: string) => Effect.Effect<Entry, LrmsError>
  /**
   * The resources that can run `app` (enabled; architecture; cores per job; memory per core ×
   * cores; walltime; inputs and outputs they can move), ordered by status as GC3Pie's broker
   * orders them: fewest of the user's queued jobs, most free slots, fewest queued, fewest of the
   * user's running jobs. A resource whose status cannot be read is left out, with the reason.
   */
  readonly select: (app: Application) => Effect.Effect<Selection>
  /**
   * Submits to the first candidate that takes the job (or to `resource` only); fails with
   * `SubmitRejected` listing every resource's reason when none does (recoverable when one of
   * their errors is). A `SubmitOutcomeUnknown` from a resource ends the search at once, with
   * that error: the job may exist there, and trying another resource could run it twice.
   */
  readonly submit: (
    app: Application,
    options?: { readonly resource?: string },
  ) => Effect.Effect<{ readonly job: Job.Job; readonly tried: ReadonlyArray<Skipped> }, LrmsError>
  /**
   * Runs an operation on the resource a job belongs to, with that resource's `Lrms` and `Auth`
   * in context (so `Lrms.awaitTermination(job)` works inside).
   */
  readonly forJob: <A, E>(
    job: Job.Job,
    f: (lrms: LrmsShape) => Effect.Effect<A, E, Auth.Auth | Lrms>,
  ) => Effect.Effect<A, E | LrmsError>
}

/**
 * The configured resources, as a service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Resources extends Context.Tag("effect-lrms/Resources")<Resources, ResourcesShape>() {}

const rank = (s: ResourceStatus) => [s.userQueued, -s.freeSlots, s.queued, s.userRun] as const

const compare = (a: ResourceStatus, b: ResourceStatus) => {
  const x = rank(a)
  const y = rank(b)
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return 0
}

/**
 * Builds the service from entries (pure apart from the status calls it makes when used).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (entries: ReadonlyArray<Entry>): ResourcesShape => {
  const byName = new Map(entries.map((e) => [e.name, e]))
  const get = (name: string) => {
    const e = byName.get(name)
    return e !== undefined ? Effect.succeed(e) : Effect.fail(
      new LrmsError({
        reason: "InvalidArgument",
        backend: "resources",
        operation: "get",
        description: `no resource ${JSON.stringify(name)} (configured: ${
          [...byName.keys()].join(", ") || "none"
        })`,
      }),
    )
  }
  const skip = (name: string, error: LrmsError, prefix = ""): Skipped => ({
    name,
    reason: `${prefix}${error.message}`,
    error,
  })
  const select = (app: Application) =>
    Effect.gen(function* () {
      const skipped: Array<Skipped> = []
      // status first: a resource that learns its limits from the host (shellcmd's `override`)
      // has learnt them by then, so the checks below see what it would accept itself
      const statuses = yield* Effect.forEach(entries, (e) =>
        Effect.either(e.lrms.getResourceStatus.pipe(Effect.provideService(Auth.Auth, e.auth))).pipe(
          Effect.map((status) => ({ entry: e, status })),
        ), { concurrency: "unbounded" })
      const candidates: Array<{ entry: Entry; status: ResourceStatus }> = []
      for (const { entry, status } of statuses) {
        const problem = yield* Effect.flip(
          checkApplication(entry.lrms.resource, entry.lrms.protocols, app),
        ).pipe(Effect.option)
        if (problem._tag === "Some") {
          skipped.push(skip(entry.name, problem.value))
        } else if (status._tag === "Left") {
          skipped.push(skip(entry.name, status.left, "status unavailable: "))
        } else candidates.push({ entry, status: status.right })
      }
      // stable: equal ranks keep configuration order
      candidates.sort((a, b) =>
        compare(a.status, b.status)
      )
      return { candidates, skipped }
    })
  const submit = (app: Application, options: { readonly resource?: string } = {}) =>
    Effect.gen(function* () {
      if (options.resource !== undefined) {
        const e = yield* get(options.resource)
        const job = yield* e.lrms.submitJob(app).pipe(Effect.provideService(Auth.Auth, e.auth))
        return { job, tried: [] }
      }
      const { candidates, skipped } = yield* select(app)
      const tried: Array<Skipped> = [...skipped]
      for (const { entry } of candidates) {
        const r = yield* Effect.either(
          entry.lrms.submitJob(app).pipe(Effect.provideService(Auth.Auth, entry.auth)),
        )
        if (r._tag === "Right") return { job: r.right, tried }
        // the job may exist on this resource: trying another could run it twice
        if (isAmbiguous(r.left)) return yield* Effect.fail(r.left)
        tried.push(skip(entry.name, r.left))
      }
      return yield* Effect.fail(
        new LrmsError({
          reason: "SubmitRejected",
          backend: "resources",
          operation: "submit",
          description: tried.length === 0
            ? "no resource is configured"
            : `no resource took the job: ${tried.map((t) => `${t.name}: ${t.reason}`).join("; ")}`,
          recoverable: tried.some((t) => t.error.recoverable),
          // each resource's own error, as a value: `cause` is the `Skipped` list
          cause: tried,
        }),
      )
    })
  const forJob = <A, E>(
    job: Job.Job,
    f: (lrms: LrmsShape) => Effect.Effect<A, E, Auth.Auth | Lrms>,
  ) =>
    Effect.flatMap(
      get(job.resourceName),
      (e) =>
        f(e.lrms).pipe(
          Effect.provideService(Auth.Auth, e.auth),
          Effect.provideService(Lrms, e.lrms),
        ),
    )
  return { entries, get, select, submit, forJob }
}

/**
 * The service over entries you build yourself: `{ name, lrms: <an Lrms layer>, auth: <an Auth
 * layer> }` each.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R = never>(
  resources: ReadonlyArray<{
    readonly name: string
    readonly lrms: Layer.Layer<Lrms, LrmsError, R>
    readonly auth: Layer.Layer<Auth.Auth, LrmsError, R>
  }>,
): Layer.Layer<Resources, LrmsError, R> =>
  Layer.scoped(
    Resources,
    Effect.map(
      Effect.forEach(resources, (r) =>
        Effect.gen(function* () {
          const ctx = yield* Layer.build(Layer.merge(r.lrms, r.auth))
          return { name: r.name, lrms: Context.get(ctx, Lrms), auth: Context.get(ctx, Auth.Auth) }
        })),
      make,
    ),
  )

// =============================================================================
// From a configuration file
// =============================================================================

const expandTilde = (path: string) =>
  path === "~" || path.startsWith("~/") ? `${Deno.env.get("HOME") ?? ""}${path.slice(1)}` : path

/** The `Auth` layer of an auth section: key file, else the agent, else the default keys. */
const authLayer = (
  spec: Gc3pieConfig.AuthSpec,
): Layer.Layer<Auth.Auth, LrmsError, FileSystem.FileSystem> => {
  if (spec.type === "none") return Auth.none
  if (spec.keyfile !== undefined) {
    return Auth.sshKey({ user: spec.username, keyFile: expandTilde(spec.keyfile) })
  }
  if ((Deno.env.get("SSH_AUTH_SOCK") ?? "") !== "") return Auth.sshAgent({ user: spec.username })
  const home = Deno.env.get("HOME") ?? ""
  for (const k of ["id_ed25519", "id_ecdsa", "id_rsa"]) {
    try {
      Deno.statSync(`${home}/.ssh/${k}`)
      return Auth.sshKey({ user: spec.username, keyFile: `${home}/.ssh/${k}` })
    } catch {
      // try the next one
    }
  }
  return Layer.fail(
    new LrmsError({
      reason: "ConfigurationError",
      backend: "config",
      operation: "auth",
      description:
        `[auth/${spec.name}]: no keyfile, no ssh-agent and no ~/.ssh/id_* key for ${spec.username}`,
    }),
  )
}

/** The platform services the layers of a configuration file require (`NodeContext.layer`). */
type Platform = FileSystem.FileSystem | CommandExecutor.CommandExecutor | Path.Path

const transportLayer = (
  spec: Gc3pieConfig.TransportSpec,
): Layer.Layer<Transport, LrmsError, Platform> =>
  spec.kind === "local" ? LocalTransport.layer : SshTransport.layer({
    host: spec.host,
    ...(spec.port !== undefined ? { port: spec.port } : {}),
    ...(spec.sshConfig !== undefined ? { sshConfig: expandTilde(spec.sshConfig) } : {}),
    ...(spec.connectTimeout !== undefined ? { connectTimeout: spec.connectTimeout } : {}),
    ...(spec.bulkThreshold !== undefined ? { bulkThreshold: spec.bulkThreshold } : {}),
    hostKeyPolicy: spec.ignoreHostKeys ? "ignore" : "strict",
  })

/**
 * The `Lrms` layer a resource section describes (its backend over its transport).
 *
 * @since 0.1.0
 * @category layers
 */
export const lrmsLayer = (
  spec: Gc3pieConfig.ResourceSpec,
): Layer.Layer<Lrms, LrmsError, Platform> => {
  const config = spec.config as never
  const backend = spec.backend === "shellcmd"
    ? Shellcmd.layer(config)
    : spec.backend === "slurm"
    ? Slurm.layer(config)
    : spec.backend === "sge"
    ? Sge.layer(config)
    : spec.backend === "pbs"
    ? Pbs.layer(config)
    : Lsf.layer(config)
  return backend.pipe(Layer.provide(transportLayer(spec.transport)))
}

/**
 * Reads a configuration file (text and the prologue/epilogue files it names) into specs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const readFile = (path: string): Effect.Effect<Gc3pieConfig.ConfigFile, LrmsError> =>
  Effect.gen(function* () {
    const full = expandTilde(path)
    const text = yield* Effect.tryPromise({
      try: () => Deno.readTextFile(full),
      catch: (e) =>
        new LrmsError({
          reason: "ConfigurationError",
          backend: "config",
          operation: "read",
          description: `cannot read the configuration file ${full}: ${e}`,
        }),
    })
    const dir = full.includes("/") ? full.slice(0, full.lastIndexOf("/")) || "/" : "."
    return yield* Gc3pieConfig.parse(text, full, {
      dir,
      files: {
        read: (p) =>
          Effect.tryPromise({
            try: () => Deno.readTextFile(expandTilde(p)),
            catch: (e) => `cannot read ${p}: ${e}`,
          }),
      },
    })
  })

/**
 * The service for the resources of a configuration file (GC3Pie's `gc3pie.conf`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFile = (path: string): Layer.Layer<Resources, LrmsError, Platform> =>
  Layer.unwrapEffect(
    Effect.map(readFile(path), (file) =>
      layer(file.resources.map((spec) => ({
        name: spec.name,
        lrms: lrmsLayer(spec),
        auth: authLayer(spec.auth),
      })))),
  )

/**
 * The service for the configuration file named by Effect's `Config` (`GC3PIE_CONF` from the
 * current `ConfigProvider`, environment variables by default; `~/.gc3/gc3pie.conf` when unset).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<
  Resources,
  LrmsError | ConfigError.ConfigError,
  Platform
> = Layer
  .unwrapEffect(
    Effect.map(
      EffectConfig.string("GC3PIE_CONF").pipe(EffectConfig.withDefault("~/.gc3/gc3pie.conf")),
      layerFile,
    ),
  )
