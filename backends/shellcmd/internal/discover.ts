/**
 * @internal Host discovery: one command tells the host's OS, architecture, processors, memory
 * and GNU time; the resource's limits follow from it once (`adopt`, pure), and each user's spool
 * and bookkeeping directories from their home.
 *
 * @module
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Ref from "effect/Ref"
import { Auth, credentialKey } from "../../../src/Auth.ts"
import { memoize, memoizeBy } from "../../../src/internal/memoize.ts"
import type { LrmsError } from "../../../src/LrmsError.ts"
import * as Quantity from "../../../src/Quantity.ts"
import * as Resource from "../../../src/Resource.ts"
import { expandHome, run, type TransportShape } from "../../../src/Transport.ts"
import * as Bookkeeping from "../Bookkeeping.ts"
import type { ShellcmdConfig } from "../Shellcmd.ts"
import { BACKEND, type Discovered, type Limits, lrmsError } from "./env.ts"

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

/** @internal The limits of the configuration alone, before anything is discovered. */
export const configuredLimits = (resource: Resource.Resource): Limits => ({
  resource,
  totalMemory: resource.maxMemoryPerCore * resource.maxCores,
})

/**
 * @internal The limits a host's facts give the configured resource (pure): its architecture
 * must be one the configuration names, unless `override`, which also adopts the host's
 * processors and memory. Fails when a configured `timeCmd` is not GNU time on the host.
 */
export const adopt = (
  config: ShellcmdConfig,
  configured: Resource.Resource,
  info: HostInfo,
  host: string,
): Either.Either<Limits, LrmsError> => {
  if (config.timeCmd !== undefined && info.timeCmd === undefined) {
    return Either.left(lrmsError(
      "ConfigurationError",
      "discover",
      `timeCmd ${JSON.stringify(config.timeCmd)} is not GNU time on ${host}`,
    ))
  }
  let resource = configured
  let totalMemory = configuredLimits(configured).totalMemory
  const arch = Resource.parseArchitecture(info.arch)
  if (arch !== undefined && !resource.architecture.includes(arch)) {
    if (!config.override) {
      return Either.left(lrmsError(
        "ConfigurationError",
        "discover",
        `resource ${resource.name} is configured for ${resource.architecture.join(", ")} ` +
          `but ${host} runs ${info.arch} (set override to adopt the host's)`,
      ))
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
      resource = { ...resource, maxMemoryPerCore: Quantity.memory(info.memory / resource.maxCores) }
    }
  }
  return Either.right({ resource, totalMemory })
}

/**
 * @internal Discovery for one resource. The host is asked once (the first call that succeeds;
 * it needs the caller's `Auth`), and the limits it gives are set in `limits`; each user's
 * directories are found once per credential (`~` is the caller's home).
 */
export const make = (
  config: ShellcmdConfig,
  transport: TransportShape,
  limits: Ref.Ref<Limits>,
): Effect.Effect<Effect.Effect<Discovered, LrmsError, Auth>> =>
  Effect.gen(function* () {
    const configured = (yield* Ref.get(limits)).resource
    const host = yield* memoize(
      Effect.gen(function* () {
        const candidates = !config.gnuTime
          ? []
          : config.timeCmd !== undefined
          ? [config.timeCmd]
          : ["/usr/bin/time", "time", "gtime"]
        const r = yield* run(
          transport,
          ["/bin/sh", "-c", DISCOVER, "lrms-discover", ...candidates],
          { backend: BACKEND, operation: "discover" },
        )
        const info = parseHostInfo(r.stdout)
        const adopted = yield* adopt(config, configured, info, transport.host)
        yield* Ref.set(limits, adopted)
        return { info, limits: adopted }
      }),
    )
    const pathsOf = memoizeBy((_credential: string) =>
      Effect.gen(function* () {
        const spool = yield* expandHome(transport, config.spooldir)
        const dir = yield* expandHome(transport, config.resourceDir)
        return { spool, store: Bookkeeping.make(transport, dir) }
      })
    )
    return Effect.gen(function* () {
      const { info, limits } = yield* host
      const { spool, store } = yield* pathsOf(credentialKey((yield* Auth).credential))
      return { info, limits, spool, store }
    })
  })
