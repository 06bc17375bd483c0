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
 * import { deepStrictEqual } from "node:assert/strict"
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
 * deepStrictEqual(config.resources[0]?.backend, "shellcmd")
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Effect from "effect/Effect"
import * as Ini from "./internal/configIni.ts"
import * as Sections from "./internal/configResource.ts"
import type { LrmsError } from "./LrmsError.ts"
import type { Architecture } from "./Resource.ts"

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
// Text rules
// =============================================================================

/**
 * Reads INI text as `ConfigParser` does (see the module notes): sections of lower-cased keys
 * with raw (not yet interpolated) values; `[DEFAULT]` under its own name.
 *
 * @since 0.1.0
 * @category parsing
 */
export const readIni: (
  text: string,
  file: string,
) => Effect.Effect<Map<string, Map<string, string>>, LrmsError> = Ini.readIni

/**
 * Replaces `%(name)s` in a value by the section's (or `[DEFAULT]`'s) value of `name`,
 * recursively (10 levels at most), and `%%` by `%`; any other `%` is an error, as in
 * `ConfigParser`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const interpolate: (
  value: string,
  lookup: (key: string) => string | undefined,
  depth?: number,
) => string | { readonly error: string } = Ini.interpolate

/**
 * Booleans as Python's `ConfigParser.getboolean` reads them: `1`, `yes`, `true`, `on` are true,
 * `0`, `no`, `false`, `off` are false (any case, surrounding blanks ignored); anything else
 * (the empty value too) is an error.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseBoolean: (text: string) => boolean | { readonly error: string } = Ini.parseBoolean

/**
 * Reads GC3Pie's `architecture` list (`x86_64, 32-bit x86`): every item matched by GC3Pie's
 * patterns; an unknown one is named in the error.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseArchitectures: (
  text: string,
) => Array<Architecture> | { readonly error: string } = Ini.parseArchitectures

// =============================================================================
// Sections
// =============================================================================

/**
 * What reading prologue/epilogue files needs (an effect, so `parse` stays testable).
 *
 * @since 0.1.0
 * @category models
 */
export interface FileReader {
  /** Reads a file's text, or fails with a message. */
  readonly read: (path: string) => Effect.Effect<string, string>
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
    const raw = yield* Ini.readIni(text, file)
    const defaults = raw.get("DEFAULT") ?? new Map<string, string>()
    const warnings: Array<string> = []
    const sectionValues = (name: string) =>
      Effect.gen(function* () {
        const own = raw.get(name)!
        const merged = new Map([...defaults, ...own])
        const values = new Map<string, string>()
        for (const [k, v] of merged) {
          const r = Ini.interpolate(v, (key) => merged.get(key))
          if (typeof r !== "string") {
            return yield* Effect.fail(Ini.configError(file, `[${name}] ${k}`, r.error))
          }
          values.set(k, r)
        }
        return values
      })
    const auths = new Map<string, AuthSpec>([["none", { name: "none", type: "none" }]])
    for (const name of raw.keys()) {
      if (!name.startsWith("auth/")) continue
      auths.set(
        name.slice("auth/".length),
        yield* Sections.authSpec(file, name, yield* sectionValues(name)),
      )
    }
    const resources: Array<ResourceSpec> = []
    for (const name of raw.keys()) {
      if (name === "DEFAULT" || name.startsWith("auth/")) continue
      if (!name.startsWith("resource/")) {
        warnings.push(`${file}: section [${name}] is neither auth/ nor resource/: ignored`)
        continue
      }
      const spec = yield* Sections.resourceSpec(
        name,
        yield* sectionValues(name),
        auths,
        file,
        options,
      )
      if (spec === undefined) warnings.push(`${file}: [${name}] is disabled`)
      else resources.push(spec)
    }
    return { resources, auths, warnings }
  })
