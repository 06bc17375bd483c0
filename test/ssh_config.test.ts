/**
 * SshConfig: resolving a host through an OpenSSH client configuration. The last tests compare
 * with `ssh -G`, OpenSSH's own resolution, which must be installed (they fail, not skip,
 * without it).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import fc from "fast-check"
import * as SshConfig from "../backends/ssh/SshConfig.ts"

const ME = { home: "/home/me", localUser: "me" }

const resolve = (config: string, host: string): SshConfig.Resolved =>
  SshConfig.resolve(config, host, ME)

// ----------------------------------------------------------------------------------------------
// Host patterns
// ----------------------------------------------------------------------------------------------

Deno.test("resolve: no configuration gives the alias and OpenSSH's defaults", () => {
  deepStrictEqual(resolve("", "example.org"), {
    alias: "example.org",
    hostName: "example.org",
    port: undefined,
    user: undefined,
    identityFiles: [],
    identitiesOnly: false,
    proxyJump: [],
    connectTimeout: undefined,
    serverAliveInterval: undefined,
    userKnownHostsFiles: ["/home/me/.ssh/known_hosts", "/home/me/.ssh/known_hosts2"],
    strictHostKeyChecking: undefined,
  })
})

Deno.test("resolve: Host patterns, wildcards, lists and negation", () => {
  const config = `
Host cluster
  HostName login.cluster.example.org
  User alice

Host node? gpu-*
  User nodes

Host *.example.org !bad.example.org
  Port 2222

Host=eq-sep
  HostName=eq.example.org
`
  const cluster = resolve(config, "cluster")
  strictEqual(cluster.hostName, "login.cluster.example.org")
  strictEqual(cluster.user, "alice")
  strictEqual(cluster.port, undefined) // Host lines match the alias, not the HostName

  strictEqual(resolve(config, "node7").user, "nodes")
  strictEqual(resolve(config, "node").user, undefined) // `?` is exactly one character
  strictEqual(resolve(config, "node17").user, undefined)
  strictEqual(resolve(config, "gpu-a100").user, "nodes")
  strictEqual(resolve(config, "www.example.org").port, 2222)
  strictEqual(resolve(config, "bad.example.org").port, undefined)
  strictEqual(resolve(config, "example.org").port, undefined)
  strictEqual(resolve(config, "eq-sep").hostName, "eq.example.org")
  // as in OpenSSH, Host patterns are case-sensitive, and the host name is lower-cased
  strictEqual(resolve(config, "CLUSTER").user, undefined)
  strictEqual(resolve(config, "CLUSTER").hostName, "cluster")
  // keywords are case-insensitive
  strictEqual(resolve("host a\n  hostNAME b.org\n  USER u\n", "a").user, "u")
  strictEqual(resolve("host a\n  hostNAME b.org\n", "a").hostName, "b.org")
})

Deno.test("resolve: the first obtained value wins; IdentityFile accumulates", () => {
  const config = `
# global options before any Host apply to every host, and win
ConnectTimeout 5

Host web
  User web-user
  Port 2200
  ConnectTimeout 30
  IdentityFile ~/.ssh/web

Host web
  User ignored
  IdentityFile ~/.ssh/web2

Host *
  User everyone
  Port 22
  IdentityFile ~/.ssh/id_ed25519
  IdentityFile ~/.ssh/web
  IdentitiesOnly yes
  ServerAliveInterval 60
  StrictHostKeyChecking accept-new
`
  const web = resolve(config, "web")
  strictEqual(web.user, "web-user")
  strictEqual(web.port, 2200)
  strictEqual(web.connectTimeout, 5)
  deepStrictEqual(web.identityFiles, [
    "/home/me/.ssh/web",
    "/home/me/.ssh/web2",
    "/home/me/.ssh/id_ed25519", // the duplicate ~/.ssh/web is dropped, as OpenSSH does
  ])
  strictEqual(web.identitiesOnly, true)
  strictEqual(web.serverAliveInterval, 60)
  strictEqual(web.strictHostKeyChecking, "accept-new")

  const other = resolve(config, "other")
  strictEqual(other.user, "everyone")
  strictEqual(other.port, 22)
  deepStrictEqual(other.identityFiles, ["/home/me/.ssh/id_ed25519", "/home/me/.ssh/web"])

  // a general block placed first shadows the specific one
  const shadowed = resolve("Host *\n  User everyone\nHost web\n  User web-user\n", "web")
  strictEqual(shadowed.user, "everyone")
})

Deno.test("resolve: Match host / originalhost / user / localuser / all / final", () => {
  const config = `
Host short
  HostName Long.Example.ORG

Match host long.example.org
  Port 2022

Match originalhost short user me
  User matched-user

Match localuser !me
  IdentityFile never

Match exec "true"
  ServerAliveInterval 1

Match localnetwork 10.0.0.0/8
  ServerAliveInterval 2

Match all
  ConnectTimeout 7

Match final host long.example.org
  IdentityFile final-%h
`
  const r = resolve(config, "short")
  strictEqual(r.hostName, "long.example.org") // lower-cased, as ssh does
  strictEqual(r.port, 2022)
  strictEqual(r.user, "matched-user")
  strictEqual(r.connectTimeout, 7)
  strictEqual(r.serverAliveInterval, undefined) // exec and localnetwork never match
  deepStrictEqual(r.identityFiles, ["final-long.example.org"])

  const other = resolve(config, "other")
  strictEqual(other.port, undefined)
  strictEqual(other.user, undefined) // `Match user me`: the remote user defaults to the local one
  deepStrictEqual(other.identityFiles, [])
})

Deno.test("resolve: Match final re-reads Host blocks against the host name", () => {
  const config = `
Host alias
  HostName real.example.org
Host real.example.org
  User via-final
Match final
`
  strictEqual(resolve(config, "alias").user, "via-final")
  strictEqual(resolve(config.replace("Match final\n", ""), "alias").user, undefined)
  // CanonicalizeHostname also asks for the second pass (no DNS lookup is made here)
  const canonical = "CanonicalizeHostname yes\n" + config.replace("Match final\n", "")
  strictEqual(resolve(canonical, "alias").user, "via-final")
})

// ----------------------------------------------------------------------------------------------
// expansion
// ----------------------------------------------------------------------------------------------

Deno.test("resolve: ~ and %h %p %r %u %d %n %% in IdentityFile and UserKnownHostsFile", () => {
  const config = `
Host gpu
  HostName %h.cluster.example.org
  User alice
  Port 2222
  IdentityFile ~/.ssh/%r@%h:%p
  IdentityFile %d/keys/%u-%n-100%%
  IdentityFile ~me/k
  IdentityFile ~other/k
  IdentityFile /abs/%x/%C
  IdentityFile "/with space/~/key"
  UserKnownHostsFile ~/.ssh/kh_%h ~/.ssh/kh_%n_%p
Host plain
  IdentityFile ~/.ssh/%r_%p
  UserKnownHostsFile none
`
  const r = resolve(config, "gpu")
  strictEqual(r.hostName, "gpu.cluster.example.org")
  deepStrictEqual(r.identityFiles, [
    "/home/me/.ssh/alice@gpu.cluster.example.org:2222",
    "/home/me/keys/me-gpu-100%",
    "/home/me/k",
    "~other/k", // other users' homes are not known
    "/abs/%x/%C", // unknown tokens are kept
    "/with space/~/key",
  ])
  deepStrictEqual(r.userKnownHostsFiles, [
    "/home/me/.ssh/kh_gpu.cluster.example.org",
    "/home/me/.ssh/kh_gpu_2222",
  ])
  // defaults: %r is the local user, %p is 22; `none` means no file
  const plain = resolve(config, "plain")
  deepStrictEqual(plain.identityFiles, ["/home/me/.ssh/me_22"])
  deepStrictEqual(plain.userKnownHostsFiles, [])
  // HostName with %% and a literal
  strictEqual(resolve("Host a\n  HostName 100%%-%h\n", "a").hostName, "100%-a")
})

// ----------------------------------------------------------------------------------------------
// ProxyJump
// ----------------------------------------------------------------------------------------------

Deno.test("parseProxyJump: one hop, several hops, users, ports, URIs, IPv6", () => {
  deepStrictEqual(SshConfig.parseProxyJump("bastion"), [
    { host: "bastion", port: undefined, user: undefined },
  ])
  deepStrictEqual(SshConfig.parseProxyJump("alice@bastion:2200"), [
    { host: "bastion", port: 2200, user: "alice" },
  ])
  deepStrictEqual(SshConfig.parseProxyJump("alice@gw1.example.org:2200, gw2 ,bob@10.0.0.1"), [
    { host: "gw1.example.org", port: 2200, user: "alice" },
    { host: "gw2", port: undefined, user: undefined },
    { host: "10.0.0.1", port: undefined, user: "bob" },
  ])
  deepStrictEqual(SshConfig.parseProxyJump("ssh://carol@gw.example.org:2022,ssh://gw3/"), [
    { host: "gw.example.org", port: 2022, user: "carol" },
    { host: "gw3", port: undefined, user: undefined },
  ])
  deepStrictEqual(SshConfig.parseProxyJump("[::1]:22,dave@[fe80::1%eth0],[2001:db8::2]"), [
    { host: "::1", port: 22, user: undefined },
    { host: "fe80::1%eth0", port: undefined, user: "dave" },
    { host: "2001:db8::2", port: undefined, user: undefined },
  ])
  deepStrictEqual(SshConfig.parseProxyJump("ssh://e%40corp@[::1]:2200"), [
    { host: "::1", port: 2200, user: "e@corp" },
  ])
  // the user is everything before the last @, as in OpenSSH
  deepStrictEqual(SshConfig.parseProxyJump("a@b@c"), [{ host: "c", port: undefined, user: "a@b" }])
  deepStrictEqual(SshConfig.parseProxyJump("none"), [])
  deepStrictEqual(SshConfig.parseProxyJump("NONE"), [])
  deepStrictEqual(SshConfig.parseProxyJump(""), [])
})

Deno.test("parseProxyJump: unreadable hops are skipped", () => {
  deepStrictEqual(
    SshConfig.parseProxyJump("ok1,@nouser,host:notaport,host:0,host:65536,[::1,::1,[::1]x,ok2"),
    [
      { host: "ok1", port: undefined, user: undefined },
      { host: "ok2", port: undefined, user: undefined },
    ],
  )
})

Deno.test("resolve: ProxyJump in the configuration; none; first value wins", () => {
  const config = `
Host direct
  ProxyJump none
Host inner
  ProxyJump alice@gw1:2200,bob@[fd00::1]:22
Host behind-command
  ProxyCommand ssh -W %h:%p gw
Host *
  ProxyJump gw0
`
  deepStrictEqual(resolve(config, "direct").proxyJump, [])
  deepStrictEqual(resolve(config, "inner").proxyJump, [
    { host: "gw1", port: 2200, user: "alice" },
    { host: "fd00::1", port: 22, user: "bob" },
  ])
  deepStrictEqual(resolve(config, "x").proxyJump, [
    { host: "gw0", port: undefined, user: undefined },
  ])
  // ProxyCommand and ProxyJump exclude each other: the first obtained wins
  deepStrictEqual(resolve(config, "behind-command").proxyJump, [])
})

// ----------------------------------------------------------------------------------------------
// numbers
// ----------------------------------------------------------------------------------------------

Deno.test("resolve: Port, ConnectTimeout and ServerAliveInterval are numbers", () => {
  const r = (lines: string) => resolve(`Host h\n${lines}\n`, "h")
  strictEqual(r("  Port 2222").port, 2222)
  strictEqual(r("  Port 0").port, undefined)
  strictEqual(r("  Port 70000").port, undefined)
  strictEqual(r("  Port ssh").port, undefined)
  strictEqual(r("  Port 22x").port, undefined)
  strictEqual(r("  Port").port, undefined)
  strictEqual(r("  Port -1").port, undefined)
  strictEqual(r("  ConnectTimeout 10").connectTimeout, 10)
  strictEqual(r("  ConnectTimeout 1m30s").connectTimeout, 90)
  strictEqual(r("  ConnectTimeout 2H").connectTimeout, 7200)
  strictEqual(r("  ConnectTimeout soon").connectTimeout, undefined)
  strictEqual(r("  ConnectTimeout 1.5").connectTimeout, undefined)
  strictEqual(r("  ServerAliveInterval 0").serverAliveInterval, 0)
  strictEqual(r("  ServerAliveInterval 15").serverAliveInterval, 15)
  strictEqual(r("  ServerAliveInterval 1w").serverAliveInterval, 604800)
  strictEqual(r("  ServerAliveInterval -5").serverAliveInterval, undefined)
  // an unreadable first value still wins (OpenSSH would refuse the file)
  strictEqual(resolve("Host h\n  Port x\nHost *\n  Port 22\n", "h").port, undefined)
})

// ----------------------------------------------------------------------------------------------
// malformed configurations
// ----------------------------------------------------------------------------------------------

Deno.test("resolve: garbage lines are ignored; a broken Host/Match line disables its block", () => {
  const config = `
this is not a keyword line
IdentityFile "unterminated
=
"quoted keyword" value
Host
  User from-empty-host
Match host
  User from-broken-match
Host "unterminated
  User from-unterminated
Host good
  User good-user
  Port	=	2201
  HostName good.example.org # a trailing comment
  \u0000\u0001 binary
Host *
  User fallback
`
  const good = resolve(config, "good")
  strictEqual(good.user, "good-user")
  strictEqual(good.port, 2201)
  strictEqual(good.hostName, "good.example.org")
  deepStrictEqual(good.identityFiles, [])
  strictEqual(resolve(config, "other").user, "fallback")
})

Deno.test("resolve: never throws on arbitrary text", () => {
  const piece = fc.oneof(
    fc.string(),
    fc.constantFrom(
      "\n",
      "\r\n",
      "\r",
      " ",
      "\t",
      "=",
      '"',
      "\\",
      "#",
      "%",
      "%h",
      "%%",
      "~",
      "!",
      "*",
      "?",
      ",",
      "@",
      "[",
      "]",
      ":",
      "ssh://",
      "Host",
      "Match",
      "all",
      "final",
      "canonical",
      "exec",
      "host",
      "user",
      "originalhost",
      "HostName",
      "Port",
      "User",
      "IdentityFile",
      "IdentitiesOnly",
      "ProxyJump",
      "ProxyCommand",
      "none",
      "ConnectTimeout",
      "ServerAliveInterval",
      "UserKnownHostsFile",
      "StrictHostKeyChecking",
      "CanonicalizeHostname yes",
      "Include",
    ),
  )
  const text = fc.array(piece, { maxLength: 40 }).map((a) => a.join(""))
  const host = fc.oneof(fc.constantFrom("h", "host", "a.b", "*"), fc.string({ maxLength: 8 }))
  fc.assert(
    fc.property(text, host, (config, h) => {
      const r = SshConfig.resolve(config, h, ME)
      strictEqual(r.alias, h)
      ok(r.port === undefined || (Number.isInteger(r.port) && r.port >= 1 && r.port <= 65535))
      ok(Array.isArray(r.identityFiles) && Array.isArray(r.proxyJump))
    }),
    { numRuns: 1000 },
  )
  fc.assert(
    fc.property(fc.fullUnicodeString(), fc.string(), (config, h) => {
      SshConfig.resolve(config, h, ME)
      SshConfig.parseProxyJump(config)
    }),
  )
})

// ----------------------------------------------------------------------------------------------
// against OpenSSH itself
// ----------------------------------------------------------------------------------------------

/** The passwd entry ssh uses for `~`, `%d` and `%u`. */
const passwd = (): { home: string; localUser: string } => {
  const run = (cmd: string, ...args: Array<string>) =>
    new TextDecoder().decode(new Deno.Command(cmd, { args, stdout: "piped" }).outputSync().stdout)
      .trim()
  const localUser = run("id", "-un")
  return { home: run("getent", "passwd", localUser).split(":")[5]!, localUser }
}

/** `ssh -G -F file host` (throws, failing the test, when ssh is missing or fails). */
const sshG = (file: string, host: string): Map<string, string> => {
  const out = new Deno.Command("ssh", {
    args: ["-G", "-F", file, host],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).outputSync()
  if (!out.success) throw new Error(`ssh -G: ${new TextDecoder().decode(out.stderr)}`)
  const map = new Map<string, string>()
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const i = line.indexOf(" ")
    if (i > 0 && !map.has(line.slice(0, i))) map.set(line.slice(0, i), line.slice(i + 1))
  }
  return map
}

const ORACLE_CONFIG = `
ServerAliveInterval 45

Host short
  HostName Long.Example.ORG

Host web? web-*
  User web
  Port 2200
  ProxyJump alice@bastion:2022,bob@[fd00::1]:2200

Host *.example.org !skip.example.org
  ConnectTimeout 1m30s
  UserKnownHostsFile ~/.ssh/kh_%h_%p %d/kh_%n_%r_%u

Match host long.example.org
  User long-user
  StrictHostKeyChecking Accept-New

Match originalhost WEB1
  IdentitiesOnly yes

Match final host long.example.org
  Port 2999

Host *
  User fallback
  ConnectTimeout 5
  IdentitiesOnly no
`

/** A hop as `ssh -G` prints it. */
const formatHop = (h: SshConfig.Hop): string =>
  (h.user === undefined ? "" : `${h.user}@`) + (h.host.includes(":") ? `[${h.host}]` : h.host) +
  (h.port === undefined ? "" : `:${h.port}`)

Deno.test("resolve agrees with ssh -G", () => {
  const me = passwd()
  const dir = Deno.makeTempDirSync({ prefix: "ssh_config_test_" })
  try {
    const file = `${dir}/config`
    Deno.writeTextFileSync(file, ORACLE_CONFIG)
    const hosts = [
      "short",
      "web1",
      "WEB1",
      "web-a",
      "webXY",
      "www.example.org",
      "skip.example.org",
      "other",
      "1.2.3.4",
    ]
    for (const host of hosts) {
      const g = sshG(file, host)
      const r = SshConfig.resolve(ORACLE_CONFIG, host, me)
      const msg = `${host}: ${JSON.stringify(r)}`
      strictEqual(r.hostName, g.get("hostname"), msg)
      strictEqual(String(r.port ?? 22), g.get("port"), msg)
      strictEqual(r.user ?? me.localUser, g.get("user"), msg)
      strictEqual(r.identitiesOnly ? "yes" : "no", g.get("identitiesonly"), msg)
      strictEqual(
        r.connectTimeout === undefined ? "none" : String(r.connectTimeout),
        g.get("connecttimeout"),
        msg,
      )
      strictEqual(String(r.serverAliveInterval ?? 0), g.get("serveraliveinterval"), msg)
      strictEqual(r.userKnownHostsFiles.join(" "), g.get("userknownhostsfile"), msg)
      strictEqual(r.strictHostKeyChecking ?? "ask", g.get("stricthostkeychecking"), msg)
      strictEqual(r.proxyJump.map(formatHop).join(","), g.get("proxyjump") ?? "", msg)
    }
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})
