/**
 * Decoding the sections of `gc3pie.conf` into typed specs, with GC3Pie's rules: an
 * `[auth/NAME]` section into an `AuthSpec`, a `[resource/NAME]` section (legacy names, limits,
 * parallel keys, transport, scripts, command overrides, scheduler keys) into a `ResourceSpec`.
 *
 * @internal
 * @module
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { AuthSpec, FileReader, ResourceSpec, TransportSpec } from "../Gc3pieConfig.ts"
import type { LrmsError } from "../LrmsError.ts"
import * as Quantity from "../Quantity.ts"
import * as Shell from "../Shell.ts"
import * as Launch from "./launcher.ts"
import { configError, parseArchitectures, parseBoolean } from "./configIni.ts"

const commandKeys: Readonly<Record<string, ReadonlyArray<string>>> = {
  slurm: ["sbatch", "squeue", "sacct", "scancel", "sinfo"],
  sge: ["qsub", "qstat", "qacct", "qdel"],
  pbs: ["qsub", "qstat", "tracejob", "qdel", "pbsnodes"],
  lsf: ["bsub", "bjobs", "bacct", "bkill", "lshosts"],
  shellcmd: [],
}

/** Keys every resource section may hold, handled here. */
const commonKeys = new Set([
  "type",
  "transport",
  "frontend",
  "auth",
  "architecture",
  "max_cores",
  "max_cores_per_job",
  "max_memory_per_core",
  "max_walltime",
  "enabled",
  "spooldir",
  "keyfile",
  "port",
  "ssh_config",
  "ssh_timeout",
  "ignore_ssh_host_keys",
  "accounting_delay",
  "prologue",
  "epilogue",
  "prologue_content",
  "epilogue_content",
  "override",
  "time_cmd",
  "resourcedir",
  "queue",
  "default_pe",
  "partition",
  "account",
  "large_file_threshold",
  "large_file_chunk_size",
  "max_nodes_per_job",
  "cores_per_node",
  "gpus_per_node",
  "launcher",
  "srun",
  "mpirun",
  "mpiexec",
  "pre_launch",
  "post_launch",
])

/** Where reading scripts looks (`dir`) and how (`files`). */
export interface ReadOptions {
  readonly dir?: string
  readonly files?: FileReader
}

const noFiles: FileReader = {
  read: (path) => Effect.fail(`cannot read ${path}: no file access in this context`),
}

/** A decimal number (`2`, `1.5`): GC3Pie reads it in a default unit. */
const bare = /^\d+(\.\d+)?$/

/** The values of one section, read with errors naming the file, the section and the key. */
const sectionReader = (file: string, section: string, v: ReadonlyMap<string, string>) => {
  const where = (key: string) => `[${section}] ${key}`
  const bad = (key: string, message: string) => Effect.fail(configError(file, where(key), message))
  const required = (key: string) =>
    v.get(key) !== undefined && v.get(key) !== ""
      ? Effect.succeed(v.get(key)!)
      : bad(key, "required")
  return {
    values: v,
    where,
    bad,
    required,
    bool: (key: string): Effect.Effect<boolean | undefined, LrmsError> => {
      const text = v.get(key)
      if (text === undefined) return Effect.succeed(undefined)
      const b = parseBoolean(text)
      return typeof b === "boolean" ? Effect.succeed(b) : bad(key, b.error)
    },
    int: (key: string) =>
      Effect.gen(function* () {
        const t = yield* required(key)
        return /^\d{1,9}$/.test(t.trim())
          ? Number(t)
          : yield* bad(key, `expected a whole number, got ${JSON.stringify(t)}`)
      }),
  }
}

type Reader = ReturnType<typeof sectionReader>

/** Decodes an `[auth/NAME]` section. */
export const authSpec = (
  file: string,
  section: string,
  v: ReadonlyMap<string, string>,
): Effect.Effect<AuthSpec, LrmsError> =>
  Effect.gen(function* () {
    const name = section.slice("auth/".length)
    const { bad } = sectionReader(file, section, v)
    const type = v.get("type")
    if (type === "none") return { name, type: "none" }
    if (type !== "ssh") {
      return yield* bad("type", `expected none or ssh, got ${JSON.stringify(type ?? "")}`)
    }
    const username = v.get("username")
    if (username === undefined || username === "") {
      return yield* bad("username", "required for type = ssh")
    }
    const port = v.get("port")
    if (port !== undefined && !/^\d{1,5}$/.test(port)) {
      return yield* bad("port", `not a port number: ${port}`)
    }
    return {
      name,
      type: "ssh",
      username,
      keyfile: v.get("keyfile"),
      port: port !== undefined ? Number(port) : undefined,
      timeout: v.get("timeout"),
      sshConfig: v.get("ssh_config"),
    }
  })

/** Legacy keys and the names they now have. */
const legacyNames: ReadonlyArray<readonly [string, string]> = [
  ["ncores", "max_cores"],
  ["sge_accounting_delay", "accounting_delay"],
]

/** The section's values with the legacy names renamed (a key under the new name wins). */
const withLegacyNames = (values: ReadonlyMap<string, string>): Map<string, string> => {
  const v = new Map(values)
  for (const [old, current] of legacyNames) {
    if (!v.has(old)) continue
    if (!v.has(current)) v.set(current, v.get(old)!)
    v.delete(old)
  }
  return v
}

/** The backend (`type`, legacy names resolved). */
const backendOf = (r: Reader) =>
  Effect.gen(function* () {
    const typeText = (yield* r.required("type")).split("+")[0]!.trim().toLowerCase()
    const backend = typeText === "subprocess" ? "shellcmd" : typeText
    if (!["shellcmd", "slurm", "sge", "pbs", "lsf"].includes(backend)) {
      return yield* r.bad(
        "type",
        `expected shellcmd, slurm, pbs, sge or lsf, got ${JSON.stringify(typeText)}`,
      )
    }
    return backend as ResourceSpec["backend"]
  })

/** The resource's limits, in the backend config's terms (bare numbers: GB and hours). */
const limitsOf = (r: Reader) =>
  Effect.gen(function* () {
    const architecture = parseArchitectures(yield* r.required("architecture"))
    if (!Array.isArray(architecture)) return yield* r.bad("architecture", architecture.error)
    const maxCores = yield* r.int("max_cores")
    const maxCoresPerJob = r.values.has("max_cores_per_job")
      ? yield* r.int("max_cores_per_job")
      : maxCores
    const memoryText = (yield* r.required("max_memory_per_core")).trim()
    const maxMemoryPerCore = bare.test(memoryText) ? `${memoryText} GB` : memoryText
    const memory = Quantity.parseMemory(maxMemoryPerCore)
    if (Either.isLeft(memory)) return yield* r.bad("max_memory_per_core", memory.left)
    const walltimeText = (yield* r.required("max_walltime")).trim()
    const maxWalltime = bare.test(walltimeText) ? `${walltimeText} hours` : walltimeText
    const walltime = Quantity.parseDuration(maxWalltime)
    if (Either.isLeft(walltime)) return yield* r.bad("max_walltime", walltime.left)
    return { architecture, maxCores, maxCoresPerJob, maxMemoryPerCore, maxWalltime }
  })

/** A whole number the key may hold (`undefined` when absent). */
const optionalInt = (r: Reader, key: string, min: number) =>
  Effect.gen(function* () {
    const text = r.values.get(key)?.trim()
    if (text === undefined || text === "") return undefined
    if (!/^\d{1,9}$/.test(text) || Number(text) < min) {
      return yield* r.bad(
        key,
        `expected a whole number of at least ${min}, got ${JSON.stringify(text)}`,
      )
    }
    return Number(text)
  })

/**
 * The parallel keys: node limits, the default `launcher`, launcher command lines (`srun`,
 * `mpirun`, `mpiexec`: path then options, by shell rules) and the `pre_launch`/`post_launch`
 * hooks (shell text).
 */
const parallelOf = (r: Reader) =>
  Effect.gen(function* () {
    const config: Record<string, unknown> = {}
    const ints = [
      ["max_nodes_per_job", "maxNodesPerJob", 1],
      ["cores_per_node", "coresPerNode", 1],
      [
        "gpus_per_node",
        "gpusPerNode",
        0,
      ],
    ] as const
    for (const [key, field, min] of ints) {
      const n = yield* optionalInt(r, key, min)
      if (n !== undefined) config[field] = n
    }
    const launcher = r.values.get("launcher")?.trim().toLowerCase()
    if (launcher !== undefined && launcher !== "") {
      if (!(Launch.launchers as ReadonlyArray<string>).includes(launcher)) {
        return yield* r.bad(
          "launcher",
          `expected ${Launch.launchers.join(", ")}, got ${JSON.stringify(launcher)}`,
        )
      }
      config.launcher = launcher
    }
    const commands: Record<string, string> = {}
    for (const name of Launch.launcherCommandNames) {
      const line = r.values.get(name)
      if (line === undefined) continue
      const words = Shell.split(line)
      if (words === undefined || words.length === 0) {
        return yield* r.bad(name, `cannot read the command ${JSON.stringify(line)}`)
      }
      commands[name] = Shell.command(words)
    }
    if (Object.keys(commands).length > 0) config.launcherCommands = commands
    for (const [key, field] of [["pre_launch", "preLaunch"], ["post_launch", "postLaunch"]]) {
      const text = r.values.get(key!)
      if (text !== undefined && text.trim() !== "") config[field!] = text
    }
    return config
  })

/** How the resource is reached (`transport`, `frontend`, the SSH keys of it and its auth). */
const transportOf = (
  r: Reader,
  backend: ResourceSpec["backend"],
  auth: AuthSpec,
  ignoreHostKeys: boolean,
): Effect.Effect<TransportSpec, LrmsError> => {
  const v = r.values
  const transportKind = (v.get("transport") ?? (backend === "shellcmd" ? "local" : "")).trim()
  if (transportKind === "local") return Effect.succeed({ kind: "local" })
  if (transportKind !== "ssh") {
    return r.bad("transport", `expected local or ssh, got ${JSON.stringify(transportKind)}`)
  }
  const frontend = v.get("frontend")?.trim()
  if (frontend === undefined || frontend === "") {
    return r.bad("frontend", "required for transport = ssh")
  }
  const ssh = auth.type === "ssh" ? auth : undefined
  const portText = v.get("port")
  const sshTimeout = v.get("ssh_timeout") ?? ssh?.timeout
  const threshold = v.get("large_file_threshold")?.trim()
  return Effect.succeed({
    kind: "ssh",
    host: frontend,
    port: ssh?.port !== undefined
      ? ssh.port
      : portText !== undefined && /^\d{1,5}$/.test(portText)
      ? Number(portText)
      : undefined,
    sshConfig: v.get("ssh_config") ?? ssh?.sshConfig,
    connectTimeout: sshTimeout !== undefined ? `${sshTimeout} seconds` : undefined,
    ignoreHostKeys,
    bulkThreshold: threshold === undefined
      ? undefined
      : bare.test(threshold)
      ? `${threshold} MB`
      : threshold,
  })
}

/** A prologue or epilogue: the file `key` names (relative to `dir`), then `key_content`. */
const scriptOf = (r: Reader, file: string, key: string, options: ReadOptions) =>
  Effect.gen(function* () {
    const parts: Array<string> = []
    const path = r.values.get(key)
    if (path !== undefined && path.trim() !== "") {
      const full = path.startsWith("/") || options.dir === undefined
        ? path
        : `${options.dir}/${path}`
      parts.push(
        yield* (options.files ?? noFiles).read(full).pipe(
          Effect.mapError((e) => configError(file, r.where(key), e)),
        ),
      )
    }
    const content = r.values.get(`${key}_content`)
    if (content !== undefined) parts.push(content)
    return parts.length > 0 ? parts.join("\n") : undefined
  })

/** The scheduler's command overrides: shell words, comments dropped. */
const commandsOf = (r: Reader, backend: ResourceSpec["backend"]) =>
  Effect.gen(function* () {
    const commands: Record<string, string> = {}
    for (const c of commandKeys[backend]!) {
      const line = r.values.get(c)
      if (line === undefined) continue
      const words = Shell.split(line)
      if (words === undefined || words.length === 0) {
        return yield* r.bad(c, `cannot read the command ${JSON.stringify(line)}`)
      }
      commands[c] = Shell.command(words)
    }
    return commands
  })

/** The keys of a scheduler backend: accounting delay, scripts, commands, queue and the like. */
const schedulerKeys = (
  r: Reader,
  backend: ResourceSpec["backend"],
  scripts: { readonly prologue: string | undefined; readonly epilogue: string | undefined },
  commands: Record<string, string>,
  config: Record<string, unknown>,
  set: (key: string, to: string) => void,
) =>
  Effect.gen(function* () {
    const v = r.values
    if (v.has("accounting_delay")) {
      const d = v.get("accounting_delay")!.trim()
      if (!bare.test(d)) {
        return yield* r.bad("accounting_delay", `expected seconds, got ${JSON.stringify(d)}`)
      }
      config.accountingDelay = `${d} seconds`
    }
    if (scripts.prologue !== undefined) config.prologue = scripts.prologue
    if (scripts.epilogue !== undefined) config.epilogue = scripts.epilogue
    if (Object.keys(commands).length > 0) config.commands = commands
    if (backend === "slurm") {
      set("partition", "partition")
      set("account", "account")
    }
    if (backend === "pbs" || backend === "lsf" || backend === "sge") set("queue", "queue")
    if (backend === "pbs") set("account", "account")
    if (backend === "sge") {
      set("default_pe", "defaultPe")
      const pe: Record<string, string> = {}
      for (const [k, value] of v) {
        const m = /^(.+)_pe$/.exec(k)
        if (m !== null && k !== "default_pe") pe[m[1]!] = value.trim()
      }
      if (Object.keys(pe).length > 0) config.pe = pe
    }
  })

/** The keys no backend reads (kept, as GC3Pie keeps them). */
const extraOf = (v: ReadonlyMap<string, string>, backend: ResourceSpec["backend"]) => {
  const extra: Record<string, string> = {}
  for (const [k, value] of v) {
    if (commonKeys.has(k) || commandKeys[backend]!.includes(k) || /_pe$/.test(k)) continue
    if (legacyNames.some(([old]) => old === k)) continue
    extra[k] = value
  }
  return extra
}

/** Decodes a `[resource/NAME]` section; `undefined` when it is disabled. */
export const resourceSpec = (
  section: string,
  values: ReadonlyMap<string, string>,
  auths: ReadonlyMap<string, AuthSpec>,
  file: string,
  options: ReadOptions,
): Effect.Effect<ResourceSpec | undefined, LrmsError> =>
  Effect.gen(function* () {
    const name = section.slice("resource/".length)
    const v = withLegacyNames(values)
    const r = sectionReader(file, section, v)
    if ((yield* r.bool("enabled")) === false) return undefined
    const backend = yield* backendOf(r)
    const limits = yield* limitsOf(r)
    const authName = v.get("auth")?.trim() ?? "none"
    const auth = auths.get(authName)
    if (auth === undefined) return yield* r.bad("auth", `no [auth/${authName}] section`)
    const ignoreHostKeys = (yield* r.bool("ignore_ssh_host_keys")) ?? false
    const override = yield* r.bool("override")
    const transport = yield* transportOf(r, backend, auth, ignoreHostKeys)
    const keyfile = v.get("keyfile")
    const resolvedAuth: AuthSpec = auth.type === "ssh" && keyfile !== undefined
      ? { ...auth, keyfile }
      : auth
    const scripts = {
      prologue: yield* scriptOf(r, file, "prologue", options),
      epilogue: yield* scriptOf(r, file, "epilogue", options),
    }
    const commands = yield* commandsOf(r, backend)
    const config: Record<string, unknown> = { name, ...limits, ...(yield* parallelOf(r)) }
    const set = (key: string, to: string) => {
      const value = v.get(key)
      if (value !== undefined && value.trim() !== "") config[to] = value.trim()
    }
    set("spooldir", "spooldir")
    if (backend === "shellcmd") {
      if (override !== undefined) config.override = override
      set("time_cmd", "timeCmd")
      set("resourcedir", "resourceDir")
    } else {
      yield* schedulerKeys(r, backend, scripts, commands, config, set)
    }
    return { name, backend, transport, auth: resolvedAuth, config, extra: extraOf(v, backend) }
  })
