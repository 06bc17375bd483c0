import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import fc from "fast-check"
import * as OpenSshCopy from "../backends/ssh/OpenSshCopy.ts"

const spec: OpenSshCopy.CopySpec = {
  direction: "get",
  host: "127.0.0.1",
  port: 2222,
  user: "alice",
  identityFiles: ["/keys/id_ed25519"],
  agent: undefined,
  knownHostsFiles: ["/home/alice/.ssh/known_hosts"],
  hostKeyPolicy: "strict",
  connectTimeout: 10,
  local: "/tmp/out/.big.lrms-part-1234",
  remote: "/home/alice/job/big.dat",
}

const option = (argv: ReadonlyArray<string>, name: string) =>
  argv.flatMap((a, i) => (argv[i - 1] === "-o" && a.startsWith(`${name}=`) ? [a] : []))

Deno.test("scpArgv: strict host keys, the same known_hosts, the key, no user config", () => {
  const argv = OpenSshCopy.scpArgv(spec)!
  strictEqual(argv[0], "scp")
  deepStrictEqual(option(argv, "StrictHostKeyChecking"), ["StrictHostKeyChecking=yes"])
  deepStrictEqual(option(argv, "UserKnownHostsFile"), [
    "UserKnownHostsFile=/home/alice/.ssh/known_hosts",
  ])
  deepStrictEqual(option(argv, "BatchMode"), ["BatchMode=yes"])
  ok(argv.includes("-F") && argv[argv.indexOf("-F") + 1] === "/dev/null")
  strictEqual(argv[argv.indexOf("-i") + 1], "/keys/id_ed25519")
  deepStrictEqual(argv.slice(-3), ["--", "alice@127.0.0.1:/home/alice/job/big.dat", spec.local])
  const put = OpenSshCopy.scpArgv({ ...spec, direction: "put" })!
  deepStrictEqual(put.slice(-2), [spec.local, "alice@127.0.0.1:/home/alice/job/big.dat"])
})

Deno.test("scpArgv: the host-key policies map to OpenSSH's", () => {
  deepStrictEqual(
    option(OpenSshCopy.scpArgv({ ...spec, hostKeyPolicy: "accept-new" })!, "StrictHostKeyChecking"),
    ["StrictHostKeyChecking=accept-new"],
  )
  const ignore = OpenSshCopy.scpArgv({ ...spec, hostKeyPolicy: "ignore" })!
  deepStrictEqual(option(ignore, "StrictHostKeyChecking"), ["StrictHostKeyChecking=no"])
  deepStrictEqual(option(ignore, "UserKnownHostsFile"), ["UserKnownHostsFile=/dev/null"])
})

Deno.test("scpArgv: an agent, IPv6, and the cases it leaves to ssh2", () => {
  const agent = OpenSshCopy.scpArgv({ ...spec, identityFiles: [], agent: "/run/agent.sock" })!
  deepStrictEqual(option(agent, "IdentityAgent"), ["IdentityAgent=/run/agent.sock"])
  ok(!agent.includes("-i"))
  ok(OpenSshCopy.scpArgv({ ...spec, host: "::1" })!.includes("alice@[::1]:/home/alice/job/big.dat"))
  strictEqual(OpenSshCopy.scpArgv({ ...spec, identityFiles: [], agent: undefined }), undefined)
  strictEqual(OpenSshCopy.scpArgv({ ...spec, remote: "/home/alice/my file" }), undefined)
  strictEqual(OpenSshCopy.scpArgv({ ...spec, local: "/tmp/$(id)" }), undefined)
  strictEqual(OpenSshCopy.scpArgv({ ...spec, remote: "-oProxyCommand=x" }), undefined)
  strictEqual(OpenSshCopy.scpArgv({ ...spec, user: "a b" }), undefined)
})

Deno.test("property: a path scp is given has only plain characters", () =>
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (path) => {
      const argv = OpenSshCopy.scpArgv({ ...spec, remote: path })
      return argv === undefined ||
        (/^[A-Za-z0-9._/+@%=,:~-]+$/.test(path) && !path.startsWith("-"))
    }),
    { numRuns: 500 },
  ))

Deno.test("failureReason reads scp's complaints", () => {
  strictEqual(OpenSshCopy.failureReason(255, "Host key verification failed."), "HostKeyMismatch")
  strictEqual(
    OpenSshCopy.failureReason(255, "alice@127.0.0.1: Permission denied (publickey)."),
    "AuthenticationFailed",
  )
  strictEqual(OpenSshCopy.failureReason(1, "scp: /x: No such file or directory"), "NotFound")
  strictEqual(
    OpenSshCopy.failureReason(255, "Connection closed by 127.0.0.1 port 2222"),
    "ConnectionLost",
  )
  strictEqual(OpenSshCopy.failureReason(1, "scp: something else"), "CommandFailed")
})
