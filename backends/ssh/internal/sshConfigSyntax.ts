/**
 * @internal The syntax of an OpenSSH client configuration: lines tokenized by `ssh-config`,
 * host patterns, `%`/`~` expansion and the values of options (ports, times, flags).
 */
import SSHConfig from "ssh-config"
import { wildcard } from "./wildcard.ts"

// ----------------------------------------------------------------------------------------------
// tokenizing (ssh-config, one line at a time)
// ----------------------------------------------------------------------------------------------

/** @internal One line of the configuration, as far as resolving a host cares. */
export type Line =
  | { readonly _tag: "Host"; readonly patterns: ReadonlyArray<string> }
  | { readonly _tag: "Match"; readonly args: ReadonlyArray<string> }
  /** A `Host`/`Match` line that could not be read: the block under it never applies. */
  | { readonly _tag: "Never" }
  | {
    readonly _tag: "Option"
    /** Keyword in lower case. */
    readonly keyword: string
    /** The value as one string (quotes removed). */
    readonly value: string
    /** The value split into arguments. */
    readonly args: ReadonlyArray<string>
  }

const SECTION = /^\s*(host|match)(?:[\s=]|$)/i

const valueOf = (value: unknown): { value: string; args: ReadonlyArray<string> } => {
  if (typeof value === "string") return { value, args: value === "" ? [] : [value] }
  if (Array.isArray(value)) {
    const args = value.flatMap((v: unknown) =>
      typeof v === "object" && v !== null && "val" in v && typeof v.val === "string" ? [v.val] : []
    )
    return { value: args.join(" "), args }
  }
  return { value: "", args: [] }
}

/**
 * Reads one line with `ssh-config`. Each line is parsed on its own so that a line it rejects
 * (an unterminated quote, `Host` without patterns, `Match host` without a value, on which its
 * `parse` throws for the whole text) costs only that line.
 */
const readLine = (text: string): Line | undefined => {
  let nodes: ReadonlyArray<unknown>
  try {
    nodes = SSHConfig.parse(text)
  } catch {
    return SECTION.test(text) ? { _tag: "Never" } : undefined
  }
  const node = nodes[0]
  if (typeof node !== "object" || node === null || !("param" in node)) return undefined
  if (typeof node.param !== "string" || node.param === "") return undefined
  const keyword = node.param.toLowerCase()
  const { args, value } = valueOf("value" in node ? node.value : undefined)
  if (keyword === "host") {
    return args.length > 0 ? { _tag: "Host", patterns: args } : { _tag: "Never" }
  }
  if (keyword === "match") return args.length > 0 ? { _tag: "Match", args } : { _tag: "Never" }
  return { _tag: "Option", keyword, value, args }
}

/** @internal The lines of a configuration text; lines that say nothing are left out. */
export const readLines = (text: string): ReadonlyArray<Line> =>
  text.split(/\r?\n|\r/).flatMap((l) => {
    const line = readLine(l)
    return line === undefined ? [] : [line]
  })

// ----------------------------------------------------------------------------------------------
// patterns
// ----------------------------------------------------------------------------------------------

/**
 * @internal OpenSSH's `match_pattern_list`: a comma-separated list; a matching `!pattern` vetoes. `fold`
 * compares case-insensitively (`match_hostname`, for host names).
 */
export const patternList = (text: string, list: string, fold: boolean): boolean => {
  let found = false
  for (const raw of list.split(",")) {
    const negated = raw.startsWith("!")
    const pattern = negated ? raw.slice(1) : raw
    if (!wildcard(text, pattern, fold)) continue
    if (negated) return false
    found = true
  }
  return found
}

/**
 * @internal A `Host` line: whitespace-separated patterns, each possibly negated with `!`, compared
 * case-sensitively as OpenSSH does.
 */
export const hostMatches = (patterns: ReadonlyArray<string>, host: string): boolean => {
  let found = false
  for (const raw of patterns) {
    const negated = raw.startsWith("!")
    if (!wildcard(host, negated ? raw.slice(1) : raw, false)) continue
    if (negated) return false
    found = true
  }
  return found
}

// ----------------------------------------------------------------------------------------------
// expansion
// ----------------------------------------------------------------------------------------------

/** @internal `%x` tokens from `tokens`; `%%` is `%`; unknown tokens are kept as written. */
export const percent = (text: string, tokens: Readonly<Record<string, string>>): string =>
  text.replace(/%(.)/gs, (all, c: string) => c === "%" ? "%" : tokens[c] ?? all)

/** @internal `~` and `~/...` (and `~localUser/...`) become the home directory; `~other/` is kept. */
export const tilde = (path: string, home: string, localUser: string): string => {
  if (path === "~" || path === `~${localUser}`) return home
  if (path.startsWith("~/")) return home + path.slice(1)
  if (localUser !== "" && path.startsWith(`~${localUser}/`)) {
    return home + path.slice(1 + localUser.length)
  }
  return path
}

const PORT = /^\d{1,5}$/

/** @internal A port number (1 to 65535), or `undefined`. */
export const parsePort = (text: string): number | undefined => {
  if (!PORT.test(text)) return undefined
  const n = Number(text)
  return n >= 1 && n <= 65535 ? n : undefined
}

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }

/** @internal OpenSSH's `convtime`: `30`, `30s`, `1m30s`, `1h`, ... to seconds. */
export const parseTime = (text: string): number | undefined => {
  const t = text.trim()
  if (!/^(?:\d+[smhdwSMHDW]?)+$/.test(t)) return undefined
  let total = 0
  for (const m of t.matchAll(/(\d+)([smhdwSMHDW]?)/g)) {
    total += Number(m[1]) * (m[2] === "" ? 1 : UNITS[m[2]!.toLowerCase()]!)
  }
  return Number.isSafeInteger(total) ? total : undefined
}

/** @internal A yes/no option: `yes` or `true` (any case). */
export const parseFlag = (text: string): boolean => {
  const t = text.toLowerCase()
  return t === "yes" || t === "true"
}
