/**
 * @internal What every part of the batch flow shares: the dialect and configuration, the
 * transport and the local file system, the resource, the scheduler commands with their
 * overrides, and the caller's spool directory and user name.
 *
 * @module
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import { Auth, credentialKey } from "../../../src/Auth.ts"
import { memoizeBy } from "../../../src/internal/memoize.ts"
import type * as Job from "../../../src/Job.ts"
import * as Metrics from "../../../src/Metrics.ts"
import { LrmsError, type LrmsErrorProps } from "../../../src/LrmsError.ts"
import * as Resource from "../../../src/Resource.ts"
import * as Shell from "../../../src/Shell.ts"
import {
  type ExecResult,
  expandHome,
  run,
  Transport,
  type TransportShape,
} from "../../../src/Transport.ts"
import type { BatchConfig } from "../Batch.ts"
import type { Dialect } from "../Dialect.ts"
import * as Script from "../Script.ts"

/** @internal The details an error may carry beside its reason, operation and description. */
export type ErrorExtra = Partial<
  Pick<LrmsErrorProps, "recoverable" | "cause" | "command" | "exitCode" | "stderr" | "jobId">
>

/** @internal The caller's spool directory (`~` expanded) and user name on the resource. */
export interface Paths {
  readonly spool: string
  readonly user: string
}

/** @internal The shared context of one batch resource. */
export interface Env {
  /** The backend type (`slurm`), the dialect's name. */
  readonly backend: string
  readonly dialect: Dialect
  readonly config: BatchConfig
  readonly transport: TransportShape
  readonly fileSystem: FileSystem.FileSystem
  readonly resource: Resource.Resource
  /** An `LrmsError` of this backend on the transport's host. */
  readonly fail: (
    reason: LrmsError["reason"],
    operation: string,
    description: string,
    extra?: ErrorExtra,
  ) => LrmsError
  /** The argv with its command name swapped for the configured override, if any. */
  readonly command: (argv: ReadonlyArray<string>) => ReadonlyArray<string>
  /** Runs a scheduler command, counted in `lrms.commands` under its own name. */
  readonly exec: (
    argv: ReadonlyArray<string>,
    env?: Readonly<Record<string, string>>,
  ) => Effect.Effect<ExecResult, LrmsError, Auth>
  /** The caller's paths (the caller's `Auth` decides whose home `~` is), once per credential. */
  readonly paths: Effect.Effect<Paths, LrmsError, Auth>
}

/** @internal A file of the job's private directory (`<jobDir>/.lrms/<file>`). */
export const privatePath = (jobDir: string, file: string): string =>
  `${jobDir}/${Script.PRIVATE_DIR}/${file}`

/** @internal The command overrides by canonical name, each split by shell rules. */
const overridesOf = (
  config: BatchConfig,
  fail: Env["fail"],
): Effect.Effect<ReadonlyMap<string, ReadonlyArray<string>>, LrmsError> =>
  Effect.suspend(() => {
    const overrides = new Map<string, ReadonlyArray<string>>()
    for (const [name, line] of Object.entries(config.commands ?? {})) {
      if (line === undefined) continue
      const words = Shell.split(line)
      if (words === undefined || words.length === 0) {
        return Effect.fail(
          fail("ConfigurationError", "config", `commands.${name}: cannot split ${line}`),
        )
      }
      overrides.set(name, words)
    }
    return Effect.succeed(overrides)
  })

/** @internal Builds the shared context over the `Transport` and `FileSystem` in context. */
export const makeEnv = (
  dialect: Dialect,
  config: BatchConfig,
): Effect.Effect<Env, LrmsError, Transport | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const backend = dialect.name
    const transport = yield* Transport
    const fileSystem = yield* FileSystem.FileSystem
    const fail: Env["fail"] = (reason, operation, description, extra = {}) =>
      new LrmsError({ reason, backend, operation, description, host: transport.host, ...extra })
    const overrides = yield* overridesOf(config, fail)
    const command = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
      const words = overrides.get(argv[0]!)
      return words === undefined ? argv : [...words, ...argv.slice(1)]
    }
    const exec: Env["exec"] = (argv, env) =>
      transport.exec(command(argv), env !== undefined ? { env } : undefined).pipe(
        Metrics.countCommand(backend, argv[0]!),
      )
    const userPaths = memoizeBy((_key: string) =>
      Effect.gen(function* () {
        const spool = yield* expandHome(transport, config.spooldir)
        const user = (yield* run(transport, ["id", "-un"], { backend, operation: "discover" }))
          .stdout.trim()
        return { spool, user }
      })
    )
    return {
      backend,
      dialect,
      config,
      transport,
      fileSystem,
      resource: Resource.make(backend, config),
      fail,
      command,
      exec,
      paths: Effect.flatMap(Auth, (auth) => userPaths(credentialKey(auth.credential))),
    }
  })

/** @internal The job's scheduler id, if it may be put on a command line; `InvalidArgument` else. */
export const nativeIdOf = (
  env: Env,
  job: Job.Job,
  operation: string,
): Effect.Effect<string, LrmsError> => {
  const id = job.nativeId
  return id !== undefined && env.dialect.stat.argv([id]) !== undefined
    ? Effect.succeed(id)
    : Effect.fail(
      env.fail("InvalidArgument", operation, `job ${job.id} has no valid ${env.backend} job id`),
    )
}
