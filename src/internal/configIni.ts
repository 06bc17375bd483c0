/**
 * The text rules of `gc3pie.conf`, as Python's `ConfigParser` and GC3Pie apply them: INI
 * sections and keys (continuation lines, full-line comments, duplicate sections refused),
 * `%(name)s` interpolation, booleans and architecture names. Pure.
 *
 * @internal
 * @module
 */
import * as Effect from "effect/Effect"
import * as ini from "ini"
import { LrmsError } from "../LrmsError.ts"
import type { Architecture } from "../Resource.ts"

/** A `ConfigurationError` naming the file and where in it (`line 3`, `[section] key`). */
export const configError = (file: string, where: string, description: string): LrmsError =>
  new LrmsError({
    reason: "ConfigurationError",
    backend: "config",
    operation: "parse",
    description: `${file}: ${where}${where === "" ? "" : ": "}${description}`,
  })

/** See `Gc3pieConfig.readIni`. */
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

/** See `Gc3pieConfig.interpolate`. */
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

/** See `Gc3pieConfig.parseBoolean`. */
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

/** See `Gc3pieConfig.parseArchitectures`. */
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
