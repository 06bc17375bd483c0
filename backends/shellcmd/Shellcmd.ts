/**
 * The shellcmd backend: jobs run as plain processes on the transport's host (the local machine
 * with `LocalTransport`, any SSH host with `SshTransport`). This is GC3Pie's `shellcmd`, and the
 * embedded default a new user runs first.
 *
 * Each job gets a directory under the spool directory, its `file:` inputs are staged there, and
 * a generated wrapper script (see `Wrapper`) runs it detached, under GNU time when the host has
 * it. The wrapper records its pid, start time, exit status and resource usage, so the state of a
 * job is read from files, and from `ps` (one call for every job polled in the same moment) only
 * while it runs. Capacity (cores and memory) is shared by every process of the user on that host
 * through JSON bookkeeping (see `Bookkeeping`); a full resource fails `submitJob` with the
 * recoverable `MaximumCapacityReached`. Walltime is enforced when the job is polled. Cancelling
 * signals the whole process tree with TERM, then KILL after `cancelGrace` (2 s by default).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Application, Auth, LocalTransport, Lrms, Shellcmd } from "effect-lrms"
 *
 * const layer = Shellcmd.layer({
 *   name: "localhost",
 *   architecture: "x86_64",
 *   maxCores: 4,
 *   maxCoresPerJob: 4,
 *   maxMemoryPerCore: "2 GiB",
 *   maxWalltime: "8 hours",
 *   spooldir: "/tmp/effect-lrms-doc2/spool",
 *   resourceDir: "/tmp/effect-lrms-doc2/bookkeeping",
 * })
 * const status = await Effect.runPromise(
 *   Lrms.getResourceStatus.pipe(
 *     Effect.provide(layer),
 *     Effect.provide(LocalTransport.layer),
 *     Effect.provide(Auth.none),
 *   ),
 * )
 * console.log(status.freeSlots <= 4) // true
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as FileSystem from "@effect/platform/FileSystem"
import { NodeFileSystem } from "@effect/platform-node"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Application } from "../../src/Application.ts"
import { Auth, credentialKey } from "../../src/Auth.ts"
import * as Batcher from "../../src/internal/batcher.ts"
import { memoize } from "../../src/internal/memoize.ts"
import { decodeOrFail } from "../../src/internal/decode.ts"
import * as Job from "../../src/Job.ts"
import { Lrms, type LrmsShape, make as makeLrms } from "../../src/Lrms.ts"
import { LrmsError } from "../../src/LrmsError.ts"
import * as Quantity from "../../src/Quantity.ts"
import * as Resource from "../../src/Resource.ts"
import * as Termination from "../../src/Termination.ts"
import * as Transfer from "../../src/Transfer.ts"
import { expandHome, readFileString, run, Transport } from "../../src/Transport.ts"
import * as LocalTransport from "../local/LocalTransport.ts"
import * as Bookkeeping from "./Bookkeeping.ts"
import * as GnuTime from "./GnuTime.ts"
import * as Processes from "./Processes.ts"
import * as Wrapper from "./Wrapper.ts"

const BACKEND = "shellcmd"

/** A reservation whose record nobody rewrote for this long lost its submitter. */
const STALE_RESERVATION_MS = 90_000

// =============================================================================
// Configuration
// =============================================================================

/**
 * The configuration of a shellcmd resource: the static attributes every backend shares, plus
 * where jobs and bookkeeping live, whether to discover cores and memory from the host
 * (`override`, off unless set: GC3Pie's default was the truthy string `'False'`), which GNU time
 * to use (`gnuTime: false` times jobs in the wrapper even where GNU time exists), and how long a
 * cancelled job may take to end after TERM before it gets KILL.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ShellcmdConfig: Schema.Struct<
  typeof Resource.ResourceConfig.fields & {
    spooldir: Schema.optionalWith<typeof Schema.String, { default: () => string }>
    resourceDir: Schema.optionalWith<typeof Schema.String, { default: () => string }>
    override: Schema.optionalWith<typeof Schema.Boolean, { default: () => false }>
    timeCmd: Schema.optional<typeof Schema.String>
    gnuTime: Schema.optionalWith<typeof Schema.Boolean, { default: () => true }>
    cancelGrace: Schema.optionalWith<
      typeof Quantity.DurationFromInput,
      { default: () => Duration.Duration }
    >
  }
> = Schema.Struct({
  ...Resource.ResourceConfig.fields,
  spooldir: Schema.optionalWith(Schema.String, { default: () => "~/.effect-lrms/spool" }),
  resourceDir: Schema.optionalWith(Schema.String, {
    default: () => "~/.effect-lrms/shellcmd.d",
  }),
  override: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  timeCmd: Schema.optional(Schema.String),
  gnuTime: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  cancelGrace: Schema.optionalWith(Quantity.DurationFromInput, {
    default: () => Duration.seconds(2),
  }),
})

/**
 * What a shellcmd configuration may contain (quantities as strings or values).
 *
 * @since 0.1.0
 * @category models
 */
export type ShellcmdConfigInput = typeof ShellcmdConfig.Encoded

/**
 * The decoded configuration.
 *
 * @since 0.1.0
 * @category models
 */
export type ShellcmdConfig = typeof ShellcmdConfig.Type

// =============================================================================
// Host discovery
// =============================================================================

/**
 * What shellcmd learns about its host on first use (one command).
 *
 * @since 0.1.0
 * @category models
 */
export interface HostInfo {
  /** `uname -s`. */
  readonly os: string
  /** `uname -m`. */
  readonly arch: string
  /** Online processors. */
  readonly cpus: number | undefined
  /** Physical memory in bytes. */
  readonly memory: number | undefined
  /** GNU time's path, if found. */
  readonly timeCmd: string | undefined
}

const DISCOVER = [
  'echo "os=$(uname -s)"',
  'echo "arch=$(uname -m)"',
  'echo "cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null)"',
  "if [ -r /proc/meminfo ]; then " +
  "echo \"memkb=$(sed -n 's/^MemTotal:[[:space:]]*\\([0-9]*\\).*/\\1/p' /proc/meminfo)\"; " +
  'else echo "membytes=$(sysctl -n hw.memsize 2>/dev/null)"; fi',
  'for c in "$@"; do p=$(command -v "$c" 2>/dev/null) || continue; ' +
  'case "$p" in /*) ;; *) continue ;; esac; ' +
  'if "$p" --version 2>&1 | grep -q GNU; then echo "time=$p"; break; fi; done',
].join("\n")

/**
 * Parses the discovery output (pure).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseHostInfo = (text: string): HostInfo => {
  const f = new Map<string, string>()
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=")
    if (eq > 0) f.set(line.slice(0, eq), line.slice(eq + 1).trim())
  }
  const num = (k: string) => {
    const v = f.get(k)
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined
  }
  const kb = num("memkb")
  return {
    os: f.get("os") ?? "",
    arch: f.get("arch") ?? "",
    cpus: num("cpus"),
    memory: kb !== undefined ? kb * 1024 : num("membytes"),
    timeCmd: f.get("time") || undefined,
  }
}

// =============================================================================
// Implementation
// =============================================================================

const lrmsError = (
  reason: LrmsError["reason"],
  operation: string,
  description: string,
  cause?: unknown,
) => new LrmsError({ reason, backend: BACKEND, operation, description, cause })

const numberData = (job: Job.Job, key: string): number | undefined => {
  const v = job.backendData[key]
  return typeof v === "number" ? v : undefined
}

/**
 * Builds a shellcmd `Lrms` over the `Transport` in context, using a local `FileSystem` for the
 * local side of transfers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  input: ShellcmdConfigInput,
): Effect.Effect<
  LrmsShape,
  LrmsError,
  Transport | FileSystem.FileSystem | Scope.Scope
> =>
  Effect.gen(function* () {
    const config = yield* decodeOrFail(ShellcmdConfig, BACKEND, "config", "ConfigurationError")(
      input,
    )
    const transport = yield* Transport
    const fileSystem = yield* FileSystem.FileSystem
    let resource: Resource.Resource = Resource.make(BACKEND, config)
    let totalMemory = resource.maxMemoryPerCore * resource.maxCores

    // ---- host discovery and paths (lazy: they need the caller's Auth) -----------------------
    const hostInfo = yield* memoize(
      Effect.gen(function* () {
        const candidates = !config.gnuTime
          ? []
          : config.timeCmd !== undefined
          ? [config.timeCmd]
          : ["/usr/bin/time", "time", "gtime"]
        const r = yield* run(
          transport,
          ["/bin/sh", "-c", DISCOVER, "lrms-discover", ...candidates],
          {
            backend: BACKEND,
            operation: "discover",
          },
        )
        const info = parseHostInfo(r.stdout)
        if (config.timeCmd !== undefined && info.timeCmd === undefined) {
          return yield* lrmsError(
            "ConfigurationError",
            "discover",
            `timeCmd ${JSON.stringify(config.timeCmd)} is not GNU time on ${transport.host}`,
          )
        }
        const arch = Resource.parseArchitecture(info.arch)
        if (arch !== undefined && !resource.architecture.includes(arch)) {
          if (!config.override) {
            return yield* lrmsError(
              "ConfigurationError",
              "discover",
              `resource ${resource.name} is configured for ${resource.architecture.join(", ")} ` +
                `but ${transport.host} runs ${info.arch} (set override to adopt the host's)`,
            )
          }
          resource = { ...resource, architecture: [arch] }
        }
        if (config.override) {
          if (info.cpus !== undefined) {
            resource = {
              ...resource,
              maxCores: info.cpus,
              maxCoresPerJob: config.maxCoresPerJob === undefined
                ? info.cpus
                : Math.min(config.maxCoresPerJob, info.cpus),
            }
          }
          if (info.memory !== undefined) {
            totalMemory = info.memory
            resource = {
              ...resource,
              maxMemoryPerCore: Quantity.memory(info.memory / resource.maxCores),
            }
          }
        }
        return info
      }),
    )
    /** The spool and bookkeeping of each user (`~` is the caller's home). */
    const pathsOf = new Map<
      string,
      Effect.Effect<{ readonly spool: string; readonly store: Bookkeeping.Store }, LrmsError, Auth>
    >()
    const discover = Effect.gen(function* () {
      const info = yield* hostInfo
      const key = credentialKey((yield* Auth).credential)
      let paths = pathsOf.get(key)
      if (paths === undefined) {
        paths = yield* memoize(
          Effect.gen(function* () {
            const spool = yield* expandHome(transport, config.spooldir)
            const dir = yield* expandHome(transport, config.resourceDir)
            return { spool, store: Bookkeeping.make(transport, dir) }
          }),
        )
        pathsOf.set(key, paths)
      }
      const { spool, store } = yield* paths
      return { info, spool, store }
    })

    // ---- liveness: one `ps` for every pid polled within 5 ms ------------------------------
    const processInfo = yield* Batcher.make<number, Processes.ProcessRow | undefined, LrmsError>({
      window: Duration.millis(5),
      maxBatch: 500,
      missing: undefined,
      run: (pids) =>
        transport.exec(Processes.psPidsArgv(pids), { env: Processes.psEnv }).pipe(
          Effect.map((r) => new Map(Processes.parsePs(r.stdout).map((row) => [row.pid, row]))),
        ),
    })

    const privatePath = (jobDir: string, file: string) => `${jobDir}/${Wrapper.PRIVATE_DIR}/${file}`

    const readOptional = (path: string) =>
      readFileString(transport, path).pipe(
        Effect.map(Option.some),
        Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(Option.none<string>())),
      )

    /** The wrapper's start (seconds since the epoch): the mtime of the file it creates first. */
    const wrapperStart = (job: Job.Job, jobDir: string) =>
      numberData(job, "wrapperStart") !== undefined
        ? Effect.succeed(numberData(job, "wrapperStart"))
        : transport.stat(privatePath(jobDir, Wrapper.Files.started)).pipe(
          Effect.map((info) => info.mtime.getTime() / 1000),
          Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(undefined)),
        )

    /** The wrapper's exit report, once it is whole. */
    const readStatus = (jobDir: string) =>
      Effect.map(
        readOptional(privatePath(jobDir, Wrapper.Files.status)),
        Option.flatMap((text): Option.Option<Wrapper.Status> => {
          const status = Wrapper.parseStatus(text)
          return status.complete ? Option.some(status) : Option.none()
        }),
      )

    /** The job's processes, leaves first; empty when the wrapper is gone. */
    const processTree = (pid: number, startedAt: number | undefined) =>
      transport.exec(Processes.psAllArgv, { env: Processes.psEnv }).pipe(
        Effect.map((r) => {
          const rows = Processes.parsePs(r.stdout)
          const root = rows.find((row) => row.pid === pid)
          // A live root with another start time is a stranger that reused the pid: touch
          // nothing. Without any root, a group still led by our pid is what is left of the job
          // (the kernel does not hand out a pid that is still a process group's id).
          const members = root !== undefined
            ? (Processes.sameStart(root, startedAt) ? Processes.tree(rows, pid) : [])
            : Processes.tree(rows.filter((row) => row.pgid === pid), pid)
          const byPid = new Map(rows.map((row) => [row.pid, row]))
          return members.filter((p) => {
            const row = byPid.get(p)
            return row !== undefined && !row.stat.startsWith("Z")
          })
        }),
      )

    const signal = (sig: "TERM" | "KILL", pids: ReadonlyArray<number>) =>
      pids.length === 0
        ? Effect.void
        : transport.exec(["kill", "-s", sig, "--", ...pids.map(String)]).pipe(Effect.asVoid)

    /** TERM the whole tree, wait up to the grace period, KILL what is left. */
    const killTree = (pid: number, startedAt: number | undefined) =>
      Effect.gen(function* () {
        const pids = yield* processTree(pid, startedAt)
        if (pids.length === 0) return 0
        yield* signal("TERM", pids)
        const deadline = Date.now() + Duration.toMillis(config.cancelGrace)
        let left: ReadonlyArray<number> = pids
        while (left.length > 0 && Date.now() < deadline) {
          yield* Effect.sleep(Duration.millis(50))
          const rows = yield* transport.exec(Processes.psPidsArgv(left), { env: Processes.psEnv })
          const alive = new Set(
            Processes.parsePs(rows.stdout).filter((r) => !r.stat.startsWith("Z")).map((r) => r.pid),
          )
          left = left.filter((p) => alive.has(p))
        }
        yield* signal("KILL", left)
        return pids.length
      })

    /** Reads the wrapper's reports into a TERMINATING job. */
    const finished = (job: Job.Job, jobDir: string, status: Wrapper.Status) =>
      Effect.gen(function* () {
        const usageText = yield* readOptional(privatePath(jobDir, Wrapper.Files.usage))
        const report = Option.map(usageText, GnuTime.parse)
        const fromReport = Option.flatMap(report, (r) => Option.fromNullable(r.termination))
        const termination = Option.isSome(fromReport)
          ? fromReport.value
          : status.returnCode !== undefined
          ? Termination.fromShellExit(status.returnCode)
          : Termination.signalled(Termination.Signals.RemoteError)
        const base = Option.isSome(report) ? report.value.usage : new Job.Usage({ extra: {} })
        const usage = new Job.Usage({
          ...base,
          ...(base.duration === undefined && status.wallSeconds !== undefined
            ? { duration: Duration.millis(Math.round(status.wallSeconds * 1000)) }
            : {}),
          cores: job.application.requestedCores,
        })
        return Job.transition(job, "TERMINATING", { termination, usage })
      })

    const jobPid = (job: Job.Job, operation: string) => {
      const pid = Number(job.nativeId)
      return Number.isSafeInteger(pid) && pid > 0 && job.remoteDir !== undefined
        ? Effect.succeed({ pid, jobDir: job.remoteDir })
        : Effect.fail(
          lrmsError("InvalidArgument", operation, `job ${job.id} has no shellcmd pid or directory`),
        )
    }

    const withinWalltime = (job: Job.Job): Duration.Duration | undefined => {
      const limit = job.application.requestedWalltime !== undefined &&
          Duration.lessThan(job.application.requestedWalltime, resource.maxWalltime)
        ? job.application.requestedWalltime
        : resource.maxWalltime
      const since = numberData(job, "submittedAt") ?? job.timestamps.SUBMITTED?.getTime()
      if (since === undefined) return undefined
      return Date.now() - since > Duration.toMillis(limit) ? limit : undefined
    }

    const updateJobState = (job: Job.Job): Effect.Effect<Job.Job, LrmsError, Auth> =>
      Effect.gen(function* () {
        const { pid, jobDir } = yield* jobPid(job, "updateJobState")
        const status = yield* readStatus(jobDir)
        if (Option.isSome(status)) return yield* finished(job, jobDir, status.value)
        const startedAt = yield* wrapperStart(job, jobDir)
        const known = startedAt !== undefined && numberData(job, "wrapperStart") === undefined
          ? Job.withBackendData(job, { wrapperStart: startedAt })
          : job
        const row = yield* processInfo(pid)
        if (!Processes.isAlive(row, startedAt)) {
          // the wrapper may have finished between the two reads
          const again = yield* readStatus(jobDir)
          if (Option.isSome(again)) return yield* finished(known, jobDir, again.value)
          const { store } = yield* discover
          yield* store.markDone(job.id)
          return Job.transition(known, "TERMINATING", {
            termination: Termination.signalled(Termination.Signals.RemoteError),
            message: `The wrapper (pid ${pid}) is gone and left no exit report`,
          })
        }
        const exceeded = withinWalltime(known)
        if (exceeded !== undefined) {
          yield* killTree(pid, startedAt)
          const { store } = yield* discover
          yield* store.markDone(job.id)
          return Job.transition(known, "TERMINATING", {
            termination: Termination.signalled(
              Termination.Signals.RemoteKill,
              Termination.EX_TEMPFAIL,
            ),
            message: `Walltime of ${Quantity.formatDuration(exceeded)} exceeded; killed`,
          })
        }
        return Job.transition(known, row!.stat.startsWith("T") ? "STOPPED" : "RUNNING")
      })

    const cancelJob = (job: Job.Job): Effect.Effect<Job.Job, LrmsError, Auth> =>
      Effect.gen(function* () {
        const { pid, jobDir } = yield* jobPid(job, "cancelJob")
        const startedAt = yield* wrapperStart(job, jobDir)
        const killed = yield* killTree(pid, startedAt)
        const { store } = yield* discover
        yield* store.markDone(job.id)
        return Job.log(
          job,
          killed > 0 ? `Sent TERM to ${killed} process(es)` : "Nothing was running",
        )
      })

    const free = (job: Job.Job): Effect.Effect<void, LrmsError, Auth> =>
      Effect.gen(function* () {
        const { store } = yield* discover
        if (job.remoteDir !== undefined) yield* transport.remove(job.remoteDir, { recursive: true })
        yield* store.remove({
          jobId: job.id,
          cores: job.application.requestedCores,
          memory: job.application.requestedMemory ?? 0,
        })
      })

    /** Marks done the records of jobs whose wrapper vanished unseen; returns how many. */
    const collectGarbage = (store: Bookkeeping.Store, listed: ReadonlyArray<Bookkeeping.Listed>) =>
      Effect.gen(function* () {
        const entries = yield* Effect.forEach(
          listed,
          (l) => store.read(l).pipe(Effect.option, Effect.map((e) => [l, e] as const)),
          { concurrency: 8 },
        )
        let collected = 0
        yield* Effect.forEach(entries, ([listedEntry, entry]) =>
          Effect.gen(function* () {
            if (Option.isNone(entry)) return
            const e = entry.value
            const started = privatePath(e.jobDir, Wrapper.Files.started)
            const info = yield* transport.stat(started).pipe(Effect.option)
            const pid = Option.isSome(info)
              ? Number(yield* readOptional(started).pipe(Effect.map(Option.getOrElse(() => ""))))
              : NaN
            let dead: boolean
            if (!Number.isSafeInteger(pid) || pid <= 0) {
              // not started yet: its submitter rewrites the record every 20 s while it stages
              // the inputs, so a record untouched for 90 s lost its submitter
              const record = yield* transport.stat(`${store.dir}/${listedEntry.file}`).pipe(
                Effect.option,
              )
              dead = Option.isSome(record) &&
                Date.now() - record.value.mtime.getTime() > STALE_RESERVATION_MS
            } else {
              const row = yield* processInfo(pid)
              // gone (or a reused pid): finished, whether or not its marker made it
              dead = !Processes.isAlive(
                row,
                Option.isSome(info) ? info.value.mtime.getTime() / 1000 : undefined,
              )
            }
            if (dead) {
              yield* store.markDone(e.jobId)
              collected++
            }
          }), { concurrency: "unbounded", discard: true })
        return collected
      })

    const status = (gc: boolean) =>
      Effect.gen(function* () {
        const { store } = yield* discover
        let listed = yield* store.list
        if (gc && listed.length > 0 && (yield* collectGarbage(store, listed)) > 0) {
          listed = yield* store.list
        }
        const inUse = Bookkeeping.used(listed)
        return new Resource.ResourceStatus({
          freeSlots: Math.max(0, resource.maxCores - inUse.cores),
          userRun: listed.length,
          userQueued: 0,
          queued: 0,
          totalRun: listed.length,
          availableMemory: Quantity.memory(Math.max(0, totalMemory - inUse.memory)),
          totalMemory: Quantity.memory(totalMemory),
          updatedAt: new Date(),
        })
      })

    interface Reservation {
      readonly app: Application
      readonly jobId: string
      readonly jobDir: string
    }
    const refusal = (
      app: Application,
      free: number,
      freeMemory: number,
    ) =>
      lrmsError(
        "MaximumCapacityReached",
        "submitJob",
        free < app.requestedCores
          ? `${app.requestedCores} core(s) requested, ${Math.max(0, free)} of ` +
            `${resource.maxCores} free on ${resource.name}; retry later` +
            (config.override ? "" : " (or raise maxCores)")
          : `${Quantity.formatMemoryHuman(Quantity.memory(app.requestedMemory ?? 0))} ` +
            `requested, ${Quantity.formatMemoryHuman(Quantity.memory(Math.max(0, freeMemory)))}` +
            ` free on ${resource.name}; retry later`,
      )

    /**
     * Takes cores and memory for every job submitted in the same moment, under one lock: each
     * gets its bookkeeping record, or `MaximumCapacityReached`.
     */
    const reserve = yield* Batcher.make<
      Reservation,
      Either.Either<Bookkeeping.Entry, LrmsError>,
      LrmsError
    >({
      window: Duration.millis(2),
      maxBatch: 1000,
      missing: Either.left(lrmsError("UnexpectedOutput", "submitJob", "reservation lost")),
      run: (requests) =>
        Effect.gen(function* () {
          const { store } = yield* discover
          return yield* store.withLock(
            Effect.gen(function* () {
              const grant = (listed: ReadonlyArray<Bookkeeping.Listed>) => {
                const inUse = Bookkeeping.used(listed)
                let free = resource.maxCores - inUse.cores
                let freeMemory = totalMemory - inUse.memory
                return requests.map((r) => {
                  const memory = r.app.requestedMemory ?? 0
                  if (free < r.app.requestedCores || freeMemory < memory) {
                    return Either.left(refusal(r.app, free, freeMemory))
                  }
                  free -= r.app.requestedCores
                  freeMemory -= memory
                  return Either.right<Bookkeeping.Entry>({
                    jobId: r.jobId,
                    resourceName: resource.name,
                    cores: r.app.requestedCores,
                    memory,
                    jobDir: r.jobDir,
                    createdAt: Date.now(),
                  })
                })
              }
              const listed = yield* store.list
              let answers = grant(listed)
              if (
                answers.some(Either.isLeft) && (yield* collectGarbage(store, listed)) > 0
              ) {
                answers = grant(yield* store.list)
              }
              yield* Effect.forEach(
                answers,
                (a) => Either.isRight(a) ? store.write(a.right) : Effect.void,
                { concurrency: 16, discard: true },
              )
              return new Map(requests.map((r, i) => [r, answers[i]!]))
            }),
          )
        }),
    })

    /** Starts every wrapper launched in the same moment with one command. */
    const launch = yield* Batcher.make<string, number | undefined, LrmsError>({
      window: Duration.millis(2),
      maxBatch: 200,
      missing: undefined,
      run: (paths) =>
        transport.exec(Wrapper.launchArgv(paths)).pipe(
          Effect.map((r) => {
            const pids = Wrapper.parseLaunch(r.stdout)
            return new Map(pids.map((pid, i) => [paths[i]!, pid]))
          }),
        ),
    })

    const submitJob = (app: Application): Effect.Effect<Job.Job, LrmsError, Auth> =>
      Effect.gen(function* () {
        const { info, spool } = yield* discover
        const job0 = Job.make({ resourceName: resource.name, backend: BACKEND, application: app })
        const jobDir = `${spool}/job.${job0.id}`
        const { store } = yield* discover
        const entry = yield* Effect.flatten(reserve({ app, jobId: job0.id, jobDir }))
        const cleanup = Effect.all([
          transport.remove(jobDir, { recursive: true }),
          store.remove(entry),
        ], { discard: true }).pipe(Effect.ignore)
        const wrapperPath = privatePath(jobDir, Wrapper.Files.wrapper)
        yield* Effect.gen(function* () {
          // keep the reservation fresh while staging, however long the inputs take
          yield* Effect.forkScoped(
            store.write(entry).pipe(
              Effect.delay(Duration.seconds(20)),
              Effect.forever,
              Effect.ignore,
            ),
          )
          yield* Transfer.makeJobDirectory(
            transport,
            fileSystem,
            app,
            jobDir,
            Wrapper.PRIVATE_DIR,
            BACKEND,
          )
          yield* transport.writeFile(
            wrapperPath,
            Wrapper.render({
              jobDir,
              app,
              timeCmd: info.timeCmd,
              doneMarker: `${store.dir}/${Bookkeeping.doneName(job0.id)}`,
            }),
          )
        }).pipe(
          Effect.scoped,
          Effect.onExit((exit) => exit._tag === "Failure" ? cleanup : Effect.void),
        )
        // Once launched, the job must not be forgotten: launch and record without interruption.
        return yield* Effect.uninterruptible(
          Effect.gen(function* () {
            const submittedAt = Date.now()
            const pid = yield* launch(wrapperPath).pipe(Effect.tapError(() => cleanup))
            if (pid === undefined) {
              yield* cleanup
              return yield* lrmsError(
                "SubmitRejected",
                "submitJob",
                `could not start the wrapper ${wrapperPath} on ${transport.host}`,
              )
            }
            const job = Job.update(job0, {
              nativeId: String(pid),
              remoteDir: jobDir,
              backendData: { submittedAt, gnuTime: info.timeCmd !== undefined },
            })
            return Job.transition(job, "SUBMITTED", {
              message: `Submitted to ${resource.name} as pid ${pid}`,
            })
          }),
        )
      })

    const base = makeLrms({
      get resource() {
        return resource
      },
      protocols: ["file"],
      submitJob,
      updateJobState,
      cancelJob,
      free,
      getResourceStatus: status(true),
      prepare: Effect.asVoid(discover),
      files: { transport, fileSystem, exclude: [Wrapper.PRIVATE_DIR] },
    })
    return {
      ...base,
      get resource() {
        return resource
      },
    } satisfies LrmsShape
  })

/**
 * The shellcmd backend as a layer over the `Transport` in context (local files through Node's
 * file system, which runs under Deno).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: ShellcmdConfigInput): Layer.Layer<Lrms, LrmsError, Transport> =>
  Layer.scoped(Lrms, make(config)).pipe(Layer.provide(NodeFileSystem.layer))

/**
 * The local machine, ready to use: shellcmd over `LocalTransport`, with cores, memory and
 * architecture discovered from the host (`override`), a one-week walltime limit, and the default
 * spool and bookkeeping directories under `~/.effect-lrms`. Fields given in `config` win.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLocal = (
  config: Partial<ShellcmdConfigInput> = {},
): Layer.Layer<Lrms, LrmsError> =>
  layer({
    name: "localhost",
    architecture: "x86_64",
    maxCores: 1,
    maxMemoryPerCore: "1 GiB",
    maxWalltime: "7 days",
    override: true,
    ...config,
  }).pipe(Layer.provide(LocalTransport.layer))
