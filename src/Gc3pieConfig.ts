/**
 * GC3Pie's configuration file (`gc3pie.conf`), read as GC3Pie reads it, into typed resource and
 * auth specifications (pure: `Resources.layerFile` turns them into layers).
 *
 * Syntax (Python's `ConfigParser`): `key = value` or `key: value`, full-line `#` / `;` comments
 * (no inline comments: a trailing `# …` stays in the value, only command keys drop it), indented
 * lines continue a value, key names are case-insensitive, `[DEFAULT]` keys are merged into every
 * section, `%(name)s` is replaced by the key `name` of the same section or `[DEFAULT]` and `%%`
 * is a literal `%`. The file is parsed with the `ini` package from npm after a first pass that
 * applies these rules (which `ini` alone does not: it cuts inline comments and knows no
 * continuation lines or interpolation).
 *
 * Sections: `[auth/NAME]` (`type = none | ssh`; ssh: `username`, `keyfile`, `port`, `timeout`,
 * `ssh_config`) and `[resource/NAME]` (see {@linkcode ResourceSpec}). Other sections are left
 * out with a warning. Legacy names are understood: `ncores` → `max_cores`,
 * `sge_accounting_delay` → `accounting_delay`, type `subprocess` → `shellcmd`, `shellcmd+ssh`
 * → `shellcmd`. A bare number is GB for `max_memory_per_core` and hours for `max_walltime`, as
 * in GC3Pie. Booleans (`enabled`, `override`, `ignore_ssh_host_keys`) are read as
 * `ConfigParser.getboolean` reads them: `1`/`yes`/`true`/`on` or `0`/`no`/`false`/`off`, any case;
 * any other value is an error. Unknown keys are kept (`extra`) and passed on. Every error names
 * the file, the section and the key.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Gc3pieConfig } from "effect-lrms/config"
 *
 * const text = `
 * [resource/laptop]
 * type = shellcmd
 * max_cores = 4
 * max_cores_per_job = 2
 * max_memory_per_core = 2
 * max_walltime = 8
 * architecture = x86_64
 * `
 * const config = Effect.runSync(Gc3pieConfig.parse(text, "gc3pie.conf"))
 * console.log(config.resources[0]?.backend) // "shellcmd"
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ini from "ini"
import { LrmsError } from "./LrmsError.ts"
import * as Quantity from "./Quantity.ts"
import type { Architecture } from "./Resource.ts"
import * as Shell from "./Shell.ts"

// =============================================================================
// Models
// =============================================================================

/**
 * How a resource is reached.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportSpec =
  | { readonly kind: "local" }
  | {
    readonly kind: "ssh"
    readonly host: string
    readonly port?: number | undefined
    readonly sshConfig?: string | undefined
    readonly connectTimeout?: string | undefined
    /** `ignore_ssh_host_keys` true (`1`, `yes`, `true`, `on`; unset or false: strict checking). */
    readonly ignoreHostKeys: boolean
    /** `large_file_threshold` (a bare number is MB): files above it go through `scp`. */
    readonly bulkThreshold?: string | undefined
  }

/**
 * An `[auth/NAME]` section.
 *
 * @since 0.1.0
 * @category models
 */
export type AuthSpec =
  | { readonly name: string; readonly type: "none" }
  | {
    readonly name: string
    readonly type: "ssh"
    readonly username: string
    readonly keyfile?: string | undefined
    readonly port?: number | undefined
    readonly timeout?: string | undefined
    readonly sshConfig?: string | undefined
  }

/**
 * A `[resource/NAME]` section, decoded: the backend, how it is reached and with which auth,
 * and the backend's configuration input (the `Shellcmd`, `Slurm`, `Sge`, `Pbs` or `Lsf` config),
 * plus the keys no backend knows.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResourceSpec {
  /** The `NAME` of `[resource/NAME]`. */
  readonly name: string
  /** The backend (`type`, legacy names resolved). */
  readonly backend: "shellcmd" | "slurm" | "sge" | "pbs" | "lsf"
  /** How it is reached (`transport`, `frontend`, ssh keys). */
  readonly transport: TransportSpec
  /** The `[auth/…]` section it names (`auth`), with the resource's `keyfile` applied. */
  readonly auth: AuthSpec
  /** The backend's configuration, as its `layer` takes it. */
  readonly config: Readonly<Record<string, unknown>>
  /** Keys that no backend reads (kept, as GC3Pie keeps them). */
  readonly extra: Readonly<Record<string, string>>
}

/**
 * A decoded configuration file.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigFile {
  /** The enabled resources, in file order. */
  readonly resources: ReadonlyArray<ResourceSpec>
  /** Every auth section by name (`none` always exists). */
  readonly auths: ReadonlyMap<string, AuthSpec>
  /** Disabled resources and ignored sections. */
  readonly warnings: ReadonlyArray<string>
}

// =============================================================================
// INI
// =============================================================================

const configError = (file: string, where: string, description: string) =>
  new LrmsError({
    reason: "ConfigurationError",
    backend: "config",
    operation: "parse",
    description: `${file}: ${where}${where === "" ? "" : ": "}${description}`,
  })

/**
 * Reads INI text as `ConfigParser` does (see the module notes): sections of lower-cased keys
 * with raw (not yet interpolated) values; `[DEFAULT]` under its own name.
 *
 * @since 0.1.0
 * @category parsing
 */
export const readIni = (
  text: string,
  file: string,
): Effect.Effect<Map<string, Map<string, string>>, LrmsError> =>
  Effect.suspend(() => {
    // first pass: ConfigParser's lines → one `key = "<JSON>"` line per value, for `ini`
    const out: Array<string> = []
    const order: Array<string> = []
    let section: string | undefined
    let key: string | undefined
    let value: Array<string> = []
    const flush = () => {
      if (key !== undefined) {
        out.push(`${JSON.stringify(key)} = ${JSON.stringify(value.join("\n"))}`)
      }
      key = undefined
      value = []
    }
    const lines = text.split(/\r?\n/)
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      const trimmed = line.trim()
      if (trimmed === "") {
        flush()
        continue
      }
      if (/^[#;]/.test(trimmed)) continue
      if (/^\s/.test(line) && key !== undefined) {
        value.push(trimmed)
        continue
      }
      const header = /^\[([^\]]+)\]\s*$/.exec(trimmed)
      if (header !== null) {
        flush()
        section = header[1]!.trim()
        if (order.includes(section)) {
          return Effect.fail(
            configError(file, `line ${i + 1}`, `section [${section}] appears twice`),
          )
        }
        order.push(section)
        out.push(`[${section.replaceAll(".", "\\.")}]`)
        continue
      }
      const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(trimmed)
      if (kv === null || section === undefined) {
        return Effect.fail(
          configError(
            file,
            `line ${i + 1}`,
            section === undefined
              ? "a key before any [section]"
              : `expected "key = value", got ${JSON.stringify(trimmed)}`,
          ),
        )
      }
      flush()
      key = kv[1]!.toLowerCase()
      value = [kv[2]!]
    }
    flush()
    const parsed = ini.parse(out.join("\n")) as Record<string, Record<string, unknown>>
    const sections = new Map<string, Map<string, string>>()
    for (const name of order) {
      const values = parsed[name] ?? {}
      sections.set(name, new Map(Object.entries(values).map(([k, v]) => [k, String(v)])))
    }
    return Effect.succeed(sections)
  })

/**
 * Replaces `%(name)s` in a value by the section's (or `[DEFAULT]`'s) value of `name`,
 * recursively (10 levels at most), and `%%` by `%`; any other `%` is an error, as in
 * `ConfigParser`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const interpolate = (
  value: string,
  lookup: (key: string) => string | undefined,
  depth = 0,
): string | { readonly error: string } => {
  if (depth > 10) return { error: "interpolation nested more than 10 levels (a loop?)" }
  let out = ""
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!
    if (c !== "%") {
      out += c
      continue
    }
    if (value[i + 1] === "%") {
      out += "%"
      i++
      continue
    }
    const m = /^%\(([^)]+)\)s/.exec(value.slice(i))
    if (m === null) {
      return { error: `a lone % (write %% for a literal %) in ${JSON.stringify(value)}` }
    }
    const raw = lookup(m[1]!.toLowerCase())
    if (raw === undefined) return { error: `%(${m[1]})s names no key of this section or [DEFAULT]` }
    const inner = interpolate(raw, lookup, depth + 1)
    if (typeof inner !== "string") return inner
    out += inner
    i += m[0].length - 1
  }
  return out
}

// =============================================================================
// Conversions (GC3Pie's rules)
// =============================================================================

/**
 * Booleans as Python's `ConfigParser.getboolean` reads them: `1`, `yes`, `true`, `on` are true,
 * `0`, `no`, `false`, `off` are false (any case, surrounding blanks ignored); anything else
 * (the empty value too) is an error.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseBoolean = (text: string): boolean | { readonly error: string } => {
  const t = text.trim().toLowerCase()
  if (/^(1|yes|true|on)$/.test(t)) return true
  if (/^(0|no|false|off)$/.test(t)) return false
  const got = JSON.stringify(text)
  return { error: `expected a boolean (1, yes, true, on or 0, no, false, off), got ${got}` }
}

const archRules: ReadonlyArray<readonly [RegExp, Architecture]> = [
  [/^(x86[_-]?64|x86 64 ?bit|64-?bit x86|amd64|x64|emt64|intel64|64 ?bit)$/i, "x86_64"],
  [/^(i[3-6]86|x86_32|32-?bit x86|32 ?bit|x86)$/i, "i686"],
  [/^(aarch64|arm64)$/i, "aarch64"],
  [/^ppc64le$/i, "ppc64le"],
  [/^riscv64$/i, "riscv64"],
]

/**
 * Reads GC3Pie's `architecture` list (`x86_64, 32-bit x86`): every item matched by GC3Pie's
 * patterns; an unknown one is named in the error.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArchitectures = (
  text: string,
): Array<Architecture> | { readonly error: string } => {
  const out: Array<Architecture> = []
  for (const item of text.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const rule = archRules.find(([re]) => re.test(item))
    if (rule === undefined) return { error: `unknown architecture ${JSON.stringify(item)}` }
    if (!out.includes(rule[1])) out.push(rule[1])
  }
  return out.length > 0 ? out : { error: "no architecture given" }
}

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
])

// =============================================================================
// Sections
// =============================================================================

/** What reading prologue/epilogue files needs (an effect, so `parse` stays testable). */
export interface FileReader {
  /** Reads a file's text, or fails with a message. */
  readonly read: (path: string) => Effect.Effect<string, string>
}

const noFiles: FileReader = {
  read: (path) => Effect.fail(`cannot read ${path}: no file access in this context`),
}

/**
 * Decodes the text of a configuration file: interpolation, every `[auth/…]` and
 * `[resource/…]` section, GC3Pie's conversions; prologue/epilogue files (relative to `dir`) are
 * read with `files`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (
  text: string,
  file: string,
  options: { readonly dir?: string; readonly files?: FileReader } = {},
): Effect.Effect<ConfigFile, LrmsError> =>
  Effect.gen(function* () {
    const raw = yield* readIni(text, file)
    const defaults = raw.get("DEFAULT") ?? new Map<string, string>()
    const warnings: Array<string> = []
    const sectionValues = (name: string) =>
      Effect.gen(function* () {
        const own = raw.get(name)!
        const merged = new Map([...defaults, ...own])
        const values = new Map<string, string>()
        for (const [k, v] of merged) {
          const r = interpolate(v, (key) => merged.get(key))
          if (typeof r !== "string") {
            return yield* Effect.fail(configError(file, `[${name}] ${k}`, r.error))
          }
          values.set(k, r)
        }
        return values
      })
    const auths = new Map<string, AuthSpec>([["none", { name: "none", type: "none" }]])
    for (const name of raw.keys()) {
      if (!name.startsWith("auth/")) continue
      const authName = name.slice(5)
      const v = yield* sectionValues(name)
      const where = (key: string) => `[${name}] ${key}`
      const type = v.get("type")
      if (type === "none") auths.set(authName, { name: authName, type: "none" })
      else if (type === "ssh") {
        const username = v.get("username")
        if (username === undefined || username === "") {
          return yield* Effect.fail(configError(file, where("username"), "required for type = ssh"))
        }
        const port = v.get("port")
        if (port !== undefined && !/^\d{1,5}$/.test(port)) {
          return yield* Effect.fail(configError(file, where("port"), `not a port number: ${port}`))
        }
        auths.set(authName, {
          name: authName,
          type: "ssh",
          username,
          keyfile: v.get("keyfile"),
          port: port !== undefined ? Number(port) : undefined,
          timeout: v.get("timeout"),
          sshConfig: v.get("ssh_config"),
        })
      } else {
        return yield* Effect.fail(
          configError(
            file,
            where("type"),
            `expected none or ssh, got ${JSON.stringify(type ?? "")}`,
          ),
        )
      }
    }
    const resources: Array<ResourceSpec> = []
    for (const name of raw.keys()) {
      if (name === "DEFAULT" || name.startsWith("auth/")) continue
      if (!name.startsWith("resource/")) {
        warnings.push(`${file}: section [${name}] is neither auth/ nor resource/: ignored`)
        continue
      }
      const spec = yield* resourceSpec(name, yield* sectionValues(name), auths, file, options)
      if (spec === undefined) warnings.push(`${file}: [${name}] is disabled`)
      else resources.push(spec)
    }
    return { resources, auths, warnings }
  })

const resourceSpec = (
  section: string,
  values: Map<string, string>,
  auths: ReadonlyMap<string, AuthSpec>,
  file: string,
  options: { readonly dir?: string; readonly files?: FileReader },
): Effect.Effect<ResourceSpec | undefined, LrmsError> =>
  Effect.gen(function* () {
    const name = section.slice("resource/".length)
    const v = new Map(values)
    // legacy names
    if (v.has("ncores")) {
      if (!v.has("max_cores")) v.set("max_cores", v.get("ncores")!)
      v.delete("ncores")
    }
    if (v.has("sge_accounting_delay")) {
      if (!v.has("accounting_delay")) v.set("accounting_delay", v.get("sge_accounting_delay")!)
      v.delete("sge_accounting_delay")
    }
    const where = (key: string) => `[${section}] ${key}`
    const bad = (key: string, message: string) =>
      Effect.fail(configError(file, where(key), message))
    const bool = (key: string): Effect.Effect<boolean | undefined, LrmsError> => {
      const text = v.get(key)
      if (text === undefined) return Effect.succeed(undefined)
      const b = parseBoolean(text)
      return typeof b === "boolean" ? Effect.succeed(b) : bad(key, b.error)
    }
    if ((yield* bool("enabled")) === false) return undefined
    const required = (key: string) =>
      v.get(key) !== undefined && v.get(key) !== ""
        ? Effect.succeed(v.get(key)!)
        : bad(key, "required")
    const typeText = (yield* required("type")).split("+")[0]!.trim().toLowerCase()
    const backend = typeText === "subprocess" ? "shellcmd" : typeText
    if (!["shellcmd", "slurm", "sge", "pbs", "lsf"].includes(backend)) {
      return yield* bad(
        "type",
        `expected shellcmd, slurm, pbs, sge or lsf, got ${JSON.stringify(typeText)}`,
      )
    }
    const int = (key: string) =>
      Effect.gen(function* () {
        const t = yield* required(key)
        return /^\d{1,9}$/.test(t.trim())
          ? Number(t)
          : yield* bad(key, `expected a whole number, got ${JSON.stringify(t)}`)
      })
    const architecture = parseArchitectures(yield* required("architecture"))
    if (!Array.isArray(architecture)) return yield* bad("architecture", architecture.error)
    const maxCores = yield* int("max_cores")
    const maxCoresPerJob = v.has("max_cores_per_job") ? yield* int("max_cores_per_job") : maxCores
    const memoryText = (yield* required("max_memory_per_core")).trim()
    const maxMemoryPerCore = /^\d+(\.\d+)?$/.test(memoryText) ? `${memoryText} GB` : memoryText
    const memory = Quantity.parseMemory(maxMemoryPerCore)
    if (Either.isLeft(memory)) return yield* bad("max_memory_per_core", memory.left)
    const walltimeText = (yield* required("max_walltime")).trim()
    const maxWalltime = /^\d+(\.\d+)?$/.test(walltimeText) ? `${walltimeText} hours` : walltimeText
    const walltime = Quantity.parseDuration(maxWalltime)
    if (Either.isLeft(walltime)) return yield* bad("max_walltime", walltime.left)
    // transport
    const transportKind = (v.get("transport") ?? (backend === "shellcmd" ? "local" : "")).trim()
    const frontend = v.get("frontend")?.trim()
    const authName = v.get("auth")?.trim() ?? "none"
    const auth = auths.get(authName)
    if (auth === undefined) return yield* bad("auth", `no [auth/${authName}] section`)
    const ignoreHostKeys = (yield* bool("ignore_ssh_host_keys")) ?? false
    const override = yield* bool("override")
    let transport: TransportSpec
    if (transportKind === "local") {
      transport = { kind: "local" }
    } else if (transportKind === "ssh") {
      if (frontend === undefined || frontend === "") {
        return yield* bad("frontend", "required for transport = ssh")
      }
      const portText = v.get("port")
      transport = {
        kind: "ssh",
        host: frontend,
        port: auth.type === "ssh" && auth.port !== undefined
          ? auth.port
          : portText !== undefined && /^\d{1,5}$/.test(portText)
          ? Number(portText)
          : undefined,
        sshConfig: v.get("ssh_config") ?? (auth.type === "ssh" ? auth.sshConfig : undefined),
        connectTimeout: v.get("ssh_timeout") !== undefined
          ? `${v.get("ssh_timeout")} seconds`
          : auth.type === "ssh" && auth.timeout !== undefined
          ? `${auth.timeout} seconds`
          : undefined,
        ignoreHostKeys,
        bulkThreshold: v.get("large_file_threshold") === undefined
          ? undefined
          : /^\d+(\.\d+)?$/.test(v.get("large_file_threshold")!.trim())
          ? `${v.get("large_file_threshold")!.trim()} MB`
          : v.get("large_file_threshold")!.trim(),
      }
    } else {
      return yield* bad("transport", `expected local or ssh, got ${JSON.stringify(transportKind)}`)
    }
    const keyfile = v.get("keyfile")
    const resolvedAuth: AuthSpec = auth.type === "ssh" && keyfile !== undefined
      ? { ...auth, keyfile }
      : auth
    // scripts: files (relative to the file's directory) and *_content
    const readScript = (key: string) =>
      Effect.gen(function* () {
        const parts: Array<string> = []
        const path = v.get(key)
        if (path !== undefined && path.trim() !== "") {
          const full = path.startsWith("/") || options.dir === undefined
            ? path
            : `${options.dir}/${path}`
          parts.push(
            yield* (options.files ?? noFiles).read(full).pipe(
              Effect.mapError((e) => configError(file, where(key), e)),
            ),
          )
        }
        const content = v.get(`${key}_content`)
        if (content !== undefined) {
          parts.push(content)
        }
        return parts.length > 0 ? parts.join("\n") : undefined
      })
    const prologue = yield* readScript("prologue")
    const epilogue = yield* readScript("epilogue")
    // command overrides: shell words, comments dropped
    const commands: Record<string, string> = {}
    for (const c of commandKeys[backend]!) {
      const line = v.get(c)
      if (line === undefined) continue
      const words = Shell.split(line)
      if (words === undefined || words.length === 0) {
        return yield* bad(c, `cannot read the command ${JSON.stringify(line)}`)
      }
      commands[c] = Shell.command(words)
    }
    const config: Record<string, unknown> = {
      name,
      architecture,
      maxCores,
      maxCoresPerJob,
      maxMemoryPerCore,
      maxWalltime,
    }
    const set = (key: string, to: string, convert: (s: string) => unknown = (s) => s) => {
      const value = v.get(key)
      if (value !== undefined && value.trim() !== "") config[to] = convert(value.trim())
    }
    set("spooldir", "spooldir")
    if (backend === "shellcmd") {
      if (override !== undefined) config.override = override
      set("time_cmd", "timeCmd")
      set("resourcedir", "resourceDir")
    } else {
      if (v.has("accounting_delay")) {
        const d = v.get("accounting_delay")!.trim()
        if (!/^\d+(\.\d+)?$/.test(d)) {
          return yield* bad("accounting_delay", `expected seconds, got ${JSON.stringify(d)}`)
        }
        config.accountingDelay = `${d} seconds`
      }
      if (prologue !== undefined) {
        config.prologue = prologue
      }
      if (epilogue !== undefined) config.epilogue = epilogue
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
    }
    const extra: Record<string, string> = {}
    for (const [k, value] of v) {
      if (commonKeys.has(k) || commandKeys[backend]!.includes(k) || /_pe$/.test(k)) continue
      if (k === "ncores" || k === "sge_accounting_delay") continue
      extra[k] = value
    }
    return {
      name,
      backend: backend as ResourceSpec["backend"],
      transport,
      auth: resolvedAuth,
      config,
      extra,
    }
  })
