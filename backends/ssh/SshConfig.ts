/**
 * Resolving a host through an OpenSSH client configuration (`~/.ssh/config`), pure: the
 * caller reads the file and passes its text.
 *
 * The `ssh-config` package tokenizes each line (keywords, `=` separators, quotes, trailing
 * comments, `Match` criteria). The evaluation is done here, following OpenSSH's
 * `readconf.c`/`ssh.c`. `ssh-config`'s own `compute` is not used, for these reasons:
 *
 * - By default it runs `Match exec` commands through a shell.
 * - It runs `nslookup` for `CanonicalizeHostname` with `CanonicalDomains`.
 * - It reads the local user from `os.userInfo()` or `process.env`, which throws `NotCapable`
 *   in Deno without `--allow-env`.
 * - Its `?` wildcard matches zero or one character.
 * - It matches `Match host` case-sensitively, where OpenSSH folds case.
 * - It only tracks the obtained `HostName` and `User` when they are spelled in that exact case.
 *
 * @since 0.1.0
 * @category models
 * @module
 */
import {
  hostMatches,
  type Line,
  parseFlag,
  parsePort,
  parseTime,
  patternList,
  percent,
  readLines,
  tilde,
} from "./internal/sshConfigSyntax.ts"

/**
 * One jump host of a `ProxyJump` chain.
 *
 * @since 0.1.0
 * @category models
 */
export interface Hop {
  /** Host name or address (an IPv6 address without its brackets). */
  readonly host: string
  /** Port, when given. */
  readonly port: number | undefined
  /** User, when given. */
  readonly user: string | undefined
}

/**
 * What the configuration says about one host.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  /** The host name as given to {@linkcode resolve} (OpenSSH's `%n`). */
  readonly alias: string
  /**
   * The host to connect to: `HostName` with `%h` expanded, else the alias; in lower case unless
   * it looks like an address, as `ssh` does.
   */
  readonly hostName: string
  /** `Port`, when set to a valid port number. */
  readonly port: number | undefined
  /** `User`, when set. */
  readonly user: string | undefined
  /**
   * Every `IdentityFile`, in order, with `~` and tokens expanded; empty when none is set (the
   * caller then tries its default keys).
   */
  readonly identityFiles: ReadonlyArray<string>
  /** `IdentitiesOnly` (default `false`). */
  readonly identitiesOnly: boolean
  /** The `ProxyJump` chain, first hop first; empty when unset or `none`. */
  readonly proxyJump: ReadonlyArray<Hop>
  /** `ConnectTimeout` in seconds, when set to a valid time. */
  readonly connectTimeout: number | undefined
  /** `ServerAliveInterval` in seconds, when set to a valid time. */
  readonly serverAliveInterval: number | undefined
  /**
   * `UserKnownHostsFile`, with `~` and tokens expanded; OpenSSH's default
   * (`~/.ssh/known_hosts`, `~/.ssh/known_hosts2`) when unset, and empty for `none`.
   */
  readonly userKnownHostsFiles: ReadonlyArray<string>
  /** `StrictHostKeyChecking` in lower case (`yes`, `no`, `ask`, `accept-new`, `off`), when set. */
  readonly strictHostKeyChecking: string | undefined
}

// ----------------------------------------------------------------------------------------------
// ProxyJump
// ----------------------------------------------------------------------------------------------

const parseHostPort = (text: string): { host: string; port: number | undefined } | undefined => {
  let host: string
  let portText: string | undefined
  if (text.startsWith("[")) {
    const close = text.indexOf("]")
    if (close < 0) return undefined
    host = text.slice(1, close)
    const rest = text.slice(close + 1)
    if (rest !== "") {
      if (!rest.startsWith(":")) return undefined
      portText = rest.slice(1)
    }
  } else {
    const colons = text.split(":").length - 1
    if (colons === 1) {
      const i = text.indexOf(":")
      host = text.slice(0, i)
      portText = text.slice(i + 1)
    } else if (colons === 0) {
      host = text
    } else {
      return undefined // a bare IPv6 address: OpenSSH wants it in brackets
    }
  }
  if (host === "" || /[\s[\]/@]/.test(host)) return undefined
  if (portText === undefined) return { host, port: undefined }
  const port = parsePort(portText)
  return port === undefined ? undefined : { host, port }
}

const parseHop = (text: string): Hop | undefined => {
  let rest = text
  let uri = false
  if (/^ssh:\/\//i.test(rest)) {
    uri = true
    rest = rest.slice("ssh://".length)
    const slash = rest.indexOf("/") // an optional path, ignored
    if (slash >= 0) {
      if (rest.slice(slash) !== "/") return undefined
      rest = rest.slice(0, slash)
    }
  }
  let user: string | undefined
  const at = rest.lastIndexOf("@")
  if (at >= 0) {
    user = rest.slice(0, at)
    rest = rest.slice(at + 1)
    if (uri) {
      user = user.split(";")[0]! // connection parameters (`;fingerprint=...`) are ignored
      try {
        user = decodeURIComponent(user)
      } catch {
        return undefined
      }
    }
    if (user === "") return undefined
  }
  const hp = parseHostPort(rest)
  return hp === undefined ? undefined : { host: hp.host, port: hp.port, user }
}

/**
 * Parses a `ProxyJump` value: comma-separated hops, each `[user@]host[:port]` or
 * `ssh://[user@]host[:port]`, with IPv6 addresses in brackets (`[::1]:22`, `user@[::1]`). The
 * user is everything before the last `@`, as in OpenSSH. `none` (any case) and the empty string
 * give no hops. Never throws: a hop that cannot be read (an empty host or user, a bad port, an
 * unclosed bracket, an IPv6 address without brackets) is skipped.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseProxyJump = (value: string): ReadonlyArray<Hop> => {
  if (value.trim().toLowerCase() === "none") return []
  return value.split(",").flatMap((part) => {
    const text = part.trim()
    if (text === "") return []
    const hop = parseHop(text)
    return hop === undefined ? [] : [hop]
  })
}

// ----------------------------------------------------------------------------------------------
// evaluation
// ----------------------------------------------------------------------------------------------

interface Obtained {
  readonly value: string
  readonly args: ReadonlyArray<string>
}

interface State {
  /** First obtained value of each keyword (lower case). */
  readonly options: Map<string, Obtained>
  /** Every `IdentityFile`, in order, without duplicates (as OpenSSH's `add_identity_file`). */
  readonly identityFiles: Array<string>
  wantFinal: boolean
}

const obtain = (state: State, line: Extract<Line, { _tag: "Option" }>): void => {
  if (line.keyword === "identityfile") {
    if (line.value !== "" && !state.identityFiles.includes(line.value)) {
      state.identityFiles.push(line.value)
    }
    return
  }
  // ProxyJump and ProxyCommand share one slot: whichever is obtained first wins.
  const key = line.keyword === "proxycommand" ? "proxyjump" : line.keyword
  if (state.options.has(key)) return
  if (line.keyword === "proxycommand") {
    state.options.set(key, { value: "none", args: ["none"] })
    return
  }
  state.options.set(key, { value: line.value, args: line.args })
}

interface Context {
  readonly alias: string
  readonly localUser: string
  readonly finalPass: boolean
}

/** The host `Match host` sees: `HostName` obtained so far (`%h` expanded), else the alias. */
const currentHost = (state: State, alias: string): string => {
  const hostName = state.options.get("hostname")?.value
  return hostName === undefined || hostName === "" ? alias : percent(hostName, { h: alias })
}

/** ssh.c lower-cases the host name unless it looks like an address (`is_addr_fast`). */
const lowerHost = (host: string): string =>
  /[%:]/.test(host) || /^[0-9.]*$/.test(host) ? host : host.toLowerCase()

/**
 * OpenSSH's `match_cfg_line`. The criteria it cannot evaluate purely are `exec`,
 * `localnetwork`, `version`, `sessiontype` and `command`, and any unknown one; a `Match` with
 * one of them never applies.
 */
const matchApplies = (args: ReadonlyArray<string>, state: State, ctx: Context): boolean => {
  let result = true
  let i = 0
  while (i < args.length) {
    const raw = args[i++]!
    const negated = raw.startsWith("!")
    const attrib = (negated ? raw.slice(1) : raw).toLowerCase()
    let r: boolean
    if (attrib === "all") {
      r = true
    } else if (attrib === "canonical" || attrib === "final") {
      if (attrib === "final") state.wantFinal = true
      r = ctx.finalPass
    } else {
      const arg = args[i++]
      if (arg === undefined) return false
      switch (attrib) {
        case "host":
          r = patternList(currentHost(state, ctx.alias), arg, true)
          break
        case "originalhost":
          r = patternList(ctx.alias, arg, true)
          break
        case "user":
          r = patternList(state.options.get("user")?.value ?? ctx.localUser, arg, false)
          break
        case "localuser":
          r = patternList(ctx.localUser, arg, false)
          break
        case "tagged":
          r = patternList(state.options.get("tag")?.value ?? "", arg, false)
          break
        default:
          return false
      }
    }
    if (r === negated) result = false
  }
  return result
}

const pass = (lines: ReadonlyArray<Line>, state: State, host: string, ctx: Context): void => {
  let active = true
  for (const line of lines) {
    switch (line._tag) {
      case "Host":
        active = hostMatches(line.patterns, host)
        break
      case "Match":
        active = matchApplies(line.args, state, ctx)
        break
      case "Never":
        active = false
        break
      case "Option":
        if (active) obtain(state, line)
        break
    }
  }
}

/**
 * Resolves `host` through the text of an OpenSSH client configuration, with OpenSSH's rules:
 *
 * - Keywords are case-insensitive.
 * - The first value obtained for each parameter wins, so specific `Host` blocks must come
 *   before `Host *`.
 * - `IdentityFile` accumulates.
 * - `Host` patterns match the alias as given, case-sensitively (as in OpenSSH), with `*`, `?`
 *   and `!`-negation. `Match host` and `Match originalhost` compare case-insensitively;
 *   `Match user` and `Match localuser` do not.
 * - `Match` understands `all`, `canonical`, `final`, `host`, `originalhost`, `user`,
 *   `localuser` and `tagged`, each negatable. With `Match final`, or with
 *   `CanonicalizeHostname` on, the file is read a second time, matching `Host` against the
 *   lower-cased host name (no DNS canonicalization happens). `ProxyJump` and `ProxyCommand` share a slot
 *   as in OpenSSH; a `ProxyCommand` obtained first makes `proxyJump` empty.
 *
 * Expansion:
 *
 * - `HostName` expands `%h` (the alias) and `%%`.
 * - `IdentityFile` and `UserKnownHostsFile` expand a leading `~` to `options.home`, then the
 *   tokens `%h` (host name), `%p` (port, 22 by default), `%r` (remote user, the local user by
 *   default), `%u` (local user), `%d` (home), `%n` (alias) and `%%`. Unknown tokens and
 *   `${VAR}` references are kept as written.
 *
 * Never throws on a malformed configuration:
 *
 * - A line `ssh-config` cannot read is ignored; if it was a `Host` or `Match` line, the
 *   block under it never applies.
 * - A number that cannot be read gives `undefined`.
 *
 * Not supported, because they need the file system, the network or other processes:
 * `Include`, `Match exec` and `Match localnetwork` (such blocks never apply), and DNS
 * canonicalization.
 *
 * @since 0.1.0
 * @category parsing
 */
export const resolve = (
  configText: string,
  host: string,
  options: { readonly home: string; readonly localUser: string },
): Resolved => {
  const lines = readLines(configText)
  const state: State = { options: new Map(), identityFiles: [], wantFinal: false }
  pass(lines, state, host, { alias: host, localUser: options.localUser, finalPass: false })
  const canonicalize = state.options.get("canonicalizehostname")?.value.toLowerCase()
  if (state.wantFinal || canonicalize === "yes" || canonicalize === "always") {
    // ssh.c: the expanded, lower-cased host name replaces HostName, then the files are read
    // again, `Host` lines now matching that name
    const final = lowerHost(currentHost(state, host))
    state.options.set("hostname", { value: final.replace(/%/g, "%%"), args: [final] })
    pass(lines, state, final, { alias: host, localUser: options.localUser, finalPass: true })
  }

  const get = (keyword: string): string | undefined => state.options.get(keyword)?.value
  const hostName = lowerHost(currentHost(state, host))
  const portText = get("port")
  const port = portText === undefined ? undefined : parsePort(portText.trim())
  const user = get("user") || undefined
  const tokens: Readonly<Record<string, string>> = {
    h: hostName,
    p: String(port ?? 22),
    r: user ?? options.localUser,
    u: options.localUser,
    d: options.home,
    n: host,
  }
  const expand = (path: string): string =>
    percent(tilde(path, options.home, options.localUser), tokens)

  const knownHosts = state.options.get("userknownhostsfile")?.args
  const userKnownHostsFiles = knownHosts === undefined || knownHosts.length === 0
    ? [`${options.home}/.ssh/known_hosts`, `${options.home}/.ssh/known_hosts2`]
    : knownHosts[0]!.toLowerCase() === "none"
    ? []
    : knownHosts.map(expand)

  const timeText = (keyword: string): number | undefined => {
    const text = get(keyword)
    return text === undefined ? undefined : parseTime(text)
  }
  const strict = get("stricthostkeychecking")

  return {
    alias: host,
    hostName,
    port,
    user,
    identityFiles: state.identityFiles.map(expand),
    identitiesOnly: parseFlag(get("identitiesonly") ?? ""),
    proxyJump: parseProxyJump(get("proxyjump") ?? ""),
    connectTimeout: timeText("connecttimeout"),
    serverAliveInterval: timeText("serveraliveinterval"),
    userKnownHostsFiles,
    strictHostKeyChecking: strict === undefined || strict === "" ? undefined : strict.toLowerCase(),
  }
}
