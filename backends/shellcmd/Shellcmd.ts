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
 * A launch whose reply is lost (the connection dropped, the command timed out) is settled on the
 * host: the wrapper runs the job only after claiming a launch token in its job directory, and
 * the submitter refuses a token still unclaimed, atomically (see `Wrapper.Files.launch`). A
 * claimed token gives the job, returned as a normal submission would be; a refused one a
 * recoverable failure, with the directory and reservation released. When the host cannot be
 * asked, `submitJob` fails with `SubmitOutcomeUnknown` carrying the submission (tag and job
 * directory), and keeps both; `reconcile` settles it later, from any process.
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
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Application } from "../../src/Application.ts"
import { Auth, credentialKey } from "../../src/Auth.ts"
import * as Batcher from "../../src/internal/batcher.ts"
import { memoize } from "../../src/internal/memoize.ts"
import { decodeOrFail } from "../../src/internal/decode.ts"
import * as Job from "../../src/Job.ts"
import {
  Lrms,
  type LrmsShape,
  make as makeLrms,
  type Reconcilable,
  type SubmitOptions,
} from "../../src/Lrms.ts"
import * as Metrics from "../../src/Metrics.ts"
import { LrmsError } from "../../src/LrmsError.ts"
import * as Quantity from "../../src/Quantity.ts"
import * as Resource from "../../src/Resource.ts"
import * as Termination from "../../src/Termination.ts"
import * as Transfer from "../../src/Transfer.ts"
import { exists, expandHome, readFileString, run, Transport } from "../../src/Transport.ts"
import * as LocalTransport from "../local/LocalTransport.ts"
import * as Bookkeeping from "./Bookkeeping.ts"
import * as GnuTime from "./GnuTime.ts"
import * as Processes from "./Processes.ts"
import * as Wrapper from "./Wrapper.ts"

const BACKEND = "shellcmd"

/** A reservation whose record nobody rewrote for this long lost its submitter. */
const STALE_RESERVATION_MS = 90_000

/**
 * How long a wrapper that may have just been started gets to claim its launch token before a
 * settling submitter refuses it. Refusing sooner is never wrong (the rename decides, and a
 * refused wrapper runs nothing), only wasteful: the job would not run although it was launched.
 */
const CLAIM_GRACE = Duration.seconds(2)

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
      name: "Shellcmd.ps",
      window: Duration.millis(5),
      maxBatch: 500,
      missing: undefined,
      run: (pids) =>
        transport.exec(Processes.psPidsArgv(pids), { env: Processes.psEnv }).pipe(
          Metrics.countCommand(BACKEND, "ps"),
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
        Metrics.countCommand(BACKEND, "ps"),
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
        : transport.exec(["kill", "-s", sig, "--", ...pids.map(String)]).pipe(
          Metrics.countCommand(BACKEND, "kill"),
          Effect.asVoid,
        )

    /** TERM the whole tree, wait up to the grace period, KILL what is left. */
    const killTree = (pid: number, startedAt: number | undefined) =>
      Effect.gen(function* () {
        const pids = yield* processTree(pid, startedAt)
        if (pids.length === 0) return 0
        yield* signal("TERM", pids)
        const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(config.cancelGrace)
        let left: ReadonlyArray<number> = pids
        while (left.length > 0 && (yield* Clock.currentTimeMillis) < deadline) {
          yield* Effect.sleep(Duration.millis(50))
          const rows = yield* transport.exec(Processes.psPidsArgv(left), { env: Processes.psEnv })
            .pipe(Metrics.countCommand(BACKEND, "ps"))
          const alive = new Set(
            Processes.parsePs(rows.stdout).filter((r) => !r.stat.startsWith("Z")).map((r) => r.pid),
          )
          left = left.filter((p) => alive.has(p))
        }
        yield* signal("KILL", left)
        // A process forked after the snapshot (a payload starting its children while TERM was
        // on its way) escaped it, but not the job's process group: look again until it is empty.
        for (let round = 0; round < 10; round++) {
          const rest = yield* processTree(pid, startedAt)
          if (rest.length === 0) break
          yield* signal(round === 0 ? "TERM" : "KILL", rest)
          yield* Effect.sleep(Duration.millis(50))
        }
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

    /** The walltime a job has run past, by `now` (the `Clock`'s), if any. */
    const pastWalltime = (job: Job.Job, now: number): Duration.Duration | undefined => {
      const limit = job.application.requestedWalltime !== undefined &&
          Duration.lessThan(job.application.requestedWalltime, resource.maxWalltime)
        ? job.application.requestedWalltime
        : resource.maxWalltime
      const since = numberData(job, "submittedAt") ?? job.timestamps.SUBMITTED?.getTime()
      if (since === undefined) return undefined
      return now - since > Duration.toMillis(limit) ? limit : undefined
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
        const exceeded = pastWalltime(known, yield* Clock.currentTimeMillis)
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

    /** Whether a failure means the host could not be asked (the transport reconnects). */
    const unreachable = (e: LrmsError) => e.reason === "ConnectionLost" || e.reason === "Timeout"

    /** Asks the host again, through the transport's reconnects, a few times (about 3 s). */
    const retrying = <A, R>(effect: Effect.Effect<A, LrmsError, R>) =>
      effect.pipe(Effect.retry({
        schedule: Schedule.exponential(Duration.millis(200), 2),
        times: 4,
        while: unreachable,
      }))

    /**
     * Settles a job's launch token (see `Wrapper.Files.launch`): refuses it if no wrapper has
     * claimed it (rename `launch` → `refused`), then reads which of the two won. `rename` is
     * atomic, so the answer is certain: `Started` (the wrapper claimed it and wrote its pid
     * first), `Refused` (it never ran the job and never will: a late wrapper finds no token
     * and exits), or `Gone` (no job directory). Idempotent: safe to retry after a lost reply,
     * and from several processes at once. Fails when the host cannot be asked. A token still
     * unclaimed is given `grace` first: a wrapper the launch did start claims it in moments.
     */
    const settleLaunch = (
      tag: string,
      jobDir: string,
      grace: Duration.Duration = Duration.zero,
    ): Effect.Effect<
      | { readonly _tag: "Started"; readonly pid: number; readonly startedAt: number | undefined }
      | { readonly _tag: "Refused" }
      | { readonly _tag: "Gone" },
      LrmsError,
      Auth
    > =>
      Effect.gen(function* () {
        const token = (name: string) => privatePath(jobDir, name)
        const until = (yield* Clock.currentTimeMillis) + Duration.toMillis(grace)
        while (
          (yield* Clock.currentTimeMillis) < until &&
          (yield* exists(transport, token(Wrapper.Files.launch)))
        ) yield* Effect.sleep(Duration.millis(50))
        yield* transport.rename(token(Wrapper.Files.launch), token(Wrapper.Files.refused)).pipe(
          Effect.catchIf((e) => e.reason === "NotFound", () => Effect.void),
        )
        const statOf = (path: string) =>
          transport.stat(path).pipe(
            Effect.map(Option.some),
            Effect.catchIf((e) => e.reason === "NotFound", () => Effect.succeed(Option.none())),
          )
        /** The token's tag must be the job's: the directory is then the job's own. */
        const checkTag = (dir: string) =>
          Effect.flatMap(readOptional(`${dir}/tag`), (text) =>
            Option.isSome(text) && text.value.trim() !== tag
              ? Effect.fail(lrmsError(
                "InvalidArgument",
                "reconcile",
                `${jobDir} belongs to job ${text.value.trim()}, not ${tag}`,
              ))
              : Effect.void)
        const claimed = token(Wrapper.Files.claimed)
        if (Option.isSome(yield* statOf(claimed))) {
          yield* checkTag(claimed)
          const pidFile = `${claimed}/pid`
          const text = yield* readOptional(pidFile)
          const pid = Option.isSome(text) ? Number(text.value.trim()) : NaN
          if (!Number.isSafeInteger(pid) || pid <= 0) {
            // the wrapper writes its pid before it claims the token: never seen, but not a start
            return yield* lrmsError(
              "UnexpectedOutput",
              "submitJob",
              `${pidFile} holds no pid although the wrapper claimed its launch`,
            )
          }
          const info = yield* statOf(pidFile)
          return {
            _tag: "Started",
            pid,
            startedAt: Option.isSome(info) ? info.value.mtime.getTime() / 1000 : undefined,
          } as const
        }
        const refused = token(Wrapper.Files.refused)
        if (Option.isSome(yield* statOf(refused))) {
          yield* checkTag(refused)
          return { _tag: "Refused" } as const
        }
        if (Option.isSome(yield* statOf(token(Wrapper.Files.launch)))) {
          return yield* lrmsError(
            "UnexpectedOutput",
            "submitJob",
            `the launch token of ${jobDir} could be neither refused nor found claimed`,
          )
        }
        return { _tag: "Gone" } as const
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
            /** Gone (or a reused pid): finished, whether or not its marker made it. */
            const gone = (pid: number, startedAt: number | undefined) =>
              Effect.map(processInfo(pid), (row) => !Processes.isAlive(row, startedAt))
            let dead: boolean
            if (!Number.isSafeInteger(pid) || pid <= 0) {
              // not started yet: its submitter rewrites the record every 20 s while it stages
              // the inputs and launches, so a record untouched for 90 s lost its submitter
              const record = yield* transport.stat(`${store.dir}/${listedEntry.file}`).pipe(
                Effect.option,
              )
              const now = yield* Clock.currentTimeMillis
              if (
                Option.isNone(record) ||
                now - record.value.mtime.getTime() <= STALE_RESERVATION_MS
              ) return
              // Settle its launch token first: a launch still on its way (its reply lost) then
              // cannot start the job once its capacity is released. Unsure: keep the record.
              const state = yield* settleLaunch(e.jobId, e.jobDir).pipe(Effect.option)
              if (Option.isNone(state)) return
              dead = state.value._tag === "Started"
                ? yield* gone(state.value.pid, state.value.startedAt)
                : true
            } else {
              dead = yield* gone(
                pid,
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
          updatedAt: new Date(yield* Clock.currentTimeMillis),
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
    /**
     * A definite refusal that could not release the job's directory and reservation: it says so
     * and carries its submission, so that `reconcile` (or garbage collection, after 90 s)
     * releases them.
     */
    const leftBehind = (e: LrmsError, tag: string, jobDir: string) =>
      new LrmsError({
        reason: e.reason,
        backend: e.backend,
        operation: e.operation,
        description: `${e.description}; its directory ${jobDir} and reservation could not be ` +
          `released: reconcile it to release them now (garbage collection does after ` +
          `${STALE_RESERVATION_MS / 1000} s)`,
        recoverable: e.recoverable,
        ...(e.cause !== undefined ? { cause: e.cause } : {}),
        submission: { resource: resource.name, tag, jobDir },
      })

    const reserve = yield* Batcher.make<
      Reservation,
      Either.Either<Bookkeeping.Entry, LrmsError>,
      LrmsError
    >({
      name: "Shellcmd.reserve",
      window: Duration.millis(2),
      maxBatch: 1000,
      missing: Either.left(lrmsError("UnexpectedOutput", "submitJob", "reservation lost")),
      run: (requests) =>
        Effect.gen(function* () {
          const { store } = yield* discover
          return yield* store.withLock(
            Effect.gen(function* () {
              const now = yield* Clock.currentTimeMillis
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
                    createdAt: now,
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
              // Each record on its own: a write that fails refuses its job only. Its record may
              // be there all the same (a lost reply): withdraw it, or say it is left.
              type Answer = Either.Either<Bookkeeping.Entry, LrmsError>
              const record = (a: Answer): Effect.Effect<Answer, never, Auth> =>
                Either.isLeft(a) ? Effect.succeed(a) : store.write(a.right).pipe(
                  Effect.as(a),
                  Effect.catchAll((e) =>
                    retrying(store.remove(a.right)).pipe(
                      Effect.as<Answer>(Either.left(e)),
                      Effect.orElseSucceed((): Answer =>
                        Either.left(leftBehind(e, a.right.jobId, a.right.jobDir))
                      ),
                    )
                  ),
                )
              const written = yield* Effect.forEach(answers, record, { concurrency: 16 })
              return new Map(requests.map((r, i) => [r, written[i]!]))
            }),
          )
        }),
    })

    /** Starts every wrapper launched in the same moment with one command. */
    const launch = yield* Batcher.make<string, number | undefined, LrmsError>({
      name: "Shellcmd.launch",
      window: Duration.millis(2),
      maxBatch: 200,
      missing: undefined,
      run: (paths) =>
        transport.exec(Wrapper.launchArgv(paths)).pipe(
          Metrics.countCommand(BACKEND, "launch"),
          Effect.map((r) => {
            const pids = Wrapper.parseLaunch(r.stdout)
            return new Map(pids.map((pid, i) => [paths[i]!, pid]))
          }),
        ),
    })

    const submitted = (
      job0: Job.Job,
      jobDir: string,
      pid: number,
      submittedAt: number,
      gnuTime: boolean,
      how = "",
    ) =>
      Job.transition(
        Job.update(job0, {
          nativeId: String(pid),
          remoteDir: jobDir,
          backendData: { submittedAt, gnuTime },
        }),
        "SUBMITTED",
        { message: `Submitted to ${resource.name} as pid ${pid}${how}` },
      )

    const unknown = (operation: string, tag: string, jobDir: string, why: string) =>
      new LrmsError({
        reason: "SubmitOutcomeUnknown",
        backend: BACKEND,
        operation,
        description:
          `the outcome of submitting job ${tag} to ${resource.name} is unknown: ${why}; ` +
          `its directory ${jobDir} and its reservation are kept: reconcile it later`,
        submission: { resource: resource.name, tag, jobDir },
      })

    const submitJob = (
      app: Application,
      options?: SubmitOptions,
    ): Effect.Effect<Job.Job, LrmsError, Auth> =>
      Effect.gen(function* () {
        const { info, spool, store } = yield* discover
        const gnuTime = info.timeCmd !== undefined
        const job0 = Job.make({
          resourceName: resource.name,
          backend: BACKEND,
          application: app,
          ...(options?.id !== undefined ? { id: options.id } : {}),
        })
        const jobDir = `${spool}/job.${job0.id}`
        const entry = yield* Effect.flatten(reserve({ app, jobId: job0.id, jobDir }))
        // Only for a job that provably never runs: before its launch, or once its launch token
        // is refused. Nothing else removes the directory or the reservation of a submission.
        // Each step through the transport's reconnects: a cleanup lost to the same fault that
        // stopped the submission would leave the reservation held until garbage collection.
        // Succeeds with whether both went; a refusal that leaves them behind says so and carries
        // its submission, so that `reconcile` (or garbage collection, after 90 s) releases them.
        const cleanup = Effect.all([
          retrying(transport.remove(jobDir, { recursive: true })),
          retrying(store.remove(entry)),
        ], { mode: "either" }).pipe(Effect.map((results) => results.every(Either.isRight)))
        const refusedAfter = (released: boolean) => (e: LrmsError) =>
          released ? e : leftBehind(e, job0.id, jobDir)
        /** Runs `self` while rewriting the reservation every 20 s (its submitter is alive). */
        const keepingFresh = <A, E, R>(self: Effect.Effect<A, E, R>) =>
          Effect.scoped(Effect.zipRight(
            Effect.forkScoped(Effect.interruptible(
              store.write(entry).pipe(
                Effect.delay(Duration.seconds(20)),
                Effect.forever,
                Effect.ignore,
              ),
            )),
            self,
          ))
        const wrapperPath = privatePath(jobDir, Wrapper.Files.wrapper)
        const launchToken = privatePath(jobDir, Wrapper.Files.launch)
        yield* keepingFresh(Effect.gen(function* () {
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
          // last: the launch token, which the wrapper must claim to run the job
          yield* transport.mkdir(launchToken, { recursive: false })
          yield* transport.writeFile(`${launchToken}/tag`, job0.id)
        })).pipe(
          // the launch was not attempted: nothing can run
          Effect.catchAll((e) =>
            Effect.flatMap(cleanup, (released) => Effect.fail(refusedAfter(released)(e)))
          ),
          Effect.onInterrupt(() => cleanup),
          Effect.tapDefect(() => cleanup),
        )
        // Once the launch may have reached the host, the job must not be forgotten: launch,
        // and settle a failed launch, without interruption.
        const outcome = yield* Effect.uninterruptible(keepingFresh(Effect.gen(function* () {
          const submittedAt = yield* Clock.currentTimeMillis
          const launched = yield* Effect.exit(launch(wrapperPath))
          if (Exit.isSuccess(launched) && launched.value !== undefined) {
            return Either.right(submitted(job0, jobDir, launched.value, submittedAt, gnuTime))
          }
          // The launch command may have run, in full or in part: ask the host which.
          const failure = Exit.isFailure(launched)
            ? Option.getOrUndefined(Cause.failureOption(launched.cause))
            : undefined
          const why = Exit.isSuccess(launched)
            ? `the launcher printed no pid for ${wrapperPath}`
            : failure !== undefined
            ? `launching ${wrapperPath} failed (${failure.message})`
            : `launching ${wrapperPath} was interrupted`
          const state = yield* Effect.either(retrying(settleLaunch(job0.id, jobDir, CLAIM_GRACE)))
          if (Either.isLeft(state)) {
            return yield* unknown(
              "submitJob",
              job0.id,
              jobDir,
              `${why}, and ${transport.host} cannot be asked whether it started (${state.left.message})`,
            )
          }
          switch (state.right._tag) {
            case "Started":
              return Either.right(submitted(
                job0,
                jobDir,
                state.right.pid,
                submittedAt,
                gnuTime,
                ` (found running after: ${why})`,
              ))
            case "Refused":
              return Either.left(
                new LrmsError({
                  reason: failure !== undefined &&
                      (failure.reason === "ConnectionLost" || failure.reason === "Timeout")
                    ? failure.reason
                    : "SubmitRejected",
                  backend: BACKEND,
                  operation: "submitJob",
                  description: `${why}; the wrapper had not started, and now cannot (its launch ` +
                    `token is refused on ${transport.host}): nothing was submitted; retry`,
                  recoverable: true,
                  ...(failure !== undefined ? { cause: failure } : {}),
                }),
              )
            case "Gone":
              return yield* unknown(
                "submitJob",
                job0.id,
                jobDir,
                `${why}, and its directory is gone from ${transport.host}`,
              )
          }
        })))
        if (Either.isRight(outcome)) return outcome.right
        // provably not started, and the reservation no longer refreshed: release everything
        return yield* Effect.fail(refusedAfter(yield* cleanup)(outcome.left))
      })

    /**
     * Attaches a job whose submission's outcome was unknown: settles its launch token (see
     * `settleLaunch`) and returns the job as `submitJob` would have, when its wrapper claimed
     * it. A launch that never started is refused for good; its directory and reservation are
     * released and the call fails with `NotFound`.
     */
    const reconcile = (
      submission: Reconcilable,
      app: Application,
    ): Effect.Effect<Job.Job, LrmsError, Auth> =>
      Effect.gen(function* () {
        const { tag } = submission
        const jobDir = submission.jobDir ?? `${
          (yield* Effect.mapError(
            discover,
            (e) =>
              unknown("reconcile", tag, "", `${transport.host} cannot be asked (${e.message})`),
          )).spool
        }/job.${tag}`
        // the directory is removed when the job never started: it must be a job directory
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(tag) || !jobDir.endsWith(`/job.${tag}`)) {
          return yield* lrmsError(
            "InvalidArgument",
            "reconcile",
            `${JSON.stringify(jobDir)} is not the directory of a shellcmd job ${
              JSON.stringify(tag)
            }`,
          )
        }
        const cannotAsk = (e: LrmsError) =>
          e.reason === "InvalidArgument"
            ? e
            : unknown("reconcile", tag, jobDir, `${transport.host} cannot be asked (${e.message})`)
        const { info, store } = yield* Effect.mapError(discover, cannotAsk)
        const state = yield* retrying(settleLaunch(tag, jobDir, CLAIM_GRACE)).pipe(
          Effect.mapError(cannotAsk),
        )
        const record = yield* retrying(store.find(tag)).pipe(Effect.option)
        const recorded = Option.flatMap(record, Option.fromNullable)
        switch (state._tag) {
          case "Started": {
            const entry = Option.isSome(recorded)
              ? yield* store.read(recorded.value).pipe(Effect.option)
              : Option.none()
            const submittedAt = Option.isSome(entry)
              ? entry.value.createdAt
              : yield* Clock.currentTimeMillis
            const job0 = Job.make({
              id: tag,
              resourceName: resource.name,
              backend: BACKEND,
              application: app,
            })
            return submitted(
              job0,
              jobDir,
              state.pid,
              submittedAt,
              info.timeCmd !== undefined,
              " (reconciled)",
            )
          }
          case "Refused":
            yield* transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
            if (Option.isSome(recorded)) {
              yield* store.remove({ jobId: tag, ...recorded.value }).pipe(Effect.ignore)
            }
            return yield* lrmsError(
              "NotFound",
              "reconcile",
              `job ${tag} never started on ${transport.host}, and now cannot (its launch token ` +
                `is refused): its directory and reservation are released`,
            )
          case "Gone": {
            // no launch token was ever made (or the job was freed): it cannot run; release what
            // a submission stopped before its launch may have left
            const dirLeft = Option.isSome(yield* transport.stat(jobDir).pipe(Effect.option))
            if (dirLeft) yield* transport.remove(jobDir, { recursive: true }).pipe(Effect.ignore)
            if (Option.isSome(recorded)) {
              yield* store.remove({ jobId: tag, ...recorded.value }).pipe(Effect.ignore)
            }
            return yield* lrmsError(
              "NotFound",
              "reconcile",
              dirLeft || Option.isSome(recorded)
                ? `job ${tag} was never launched on ${transport.host}: its directory and ` +
                  `reservation are released`
                : `job ${tag} has no directory on ${transport.host} (${jobDir}): it never ` +
                  `started, or it was freed`,
            )
          }
        }
      })

    const base = makeLrms({
      get resource() {
        return resource
      },
      protocols: ["file"],
      submitJob,
      reconcile,
      updateJobState,
      cancelJob,
      free,
      getResourceStatus: status(true),
      prepare: Effect.asVoid(discover),
      files: { transport, fileSystem, exclude: [Wrapper.PRIVATE_DIR] },
      ...(transport.close !== undefined ? { close: transport.close } : {}),
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
