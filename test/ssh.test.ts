/**
 * The SSH transport against a real OpenSSH server on loopback (test/services/sshd-up.sh), and
 * the contract suite over Shellcmd + SshTransport. Skipped, with the reason printed, when the
 * server is down.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Sink from "effect/Sink"
import fc from "fast-check"
import * as Shellcmd from "../backends/shellcmd/Shellcmd.ts"
import * as Auth from "../src/Auth.ts"
import * as Lrms from "../src/Lrms.ts"
import * as Transfer from "../src/Transfer.ts"
import { readFileString, Transport } from "../src/Transport.ts"
import { runFailure, runTest, tempDir } from "./_effect.ts"
import { removeWhileWritten } from "./_remove_race.ts"
import { keyAuth, sshd, sshTest, transport, withAuth } from "./_sshd.ts"
import { suite } from "./contract/LrmsContract.ts"
import { NodeContext } from "@effect/platform-node"
import * as FileSystem from "@effect/platform/FileSystem"

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `ssh: ${name}`, ...sshTest, fn })

const remoteScratch = (tag: string) => `/tmp/lrms-ssh-${tag}-${crypto.randomUUID().slice(0, 8)}`

const withTransport = <A, E>(
  body: (t: Transport["Type"]) => Effect.Effect<A, E, Auth.Auth>,
  layer = withAuth(transport()),
) => Effect.flatMap(Transport, body).pipe(Effect.provide(layer))

// ---- the contract suite over SSH ----------------------------------------------------------

suite("shellcmd+ssh", {
  makeLayer: ({ dir, maxCores }) => {
    const base = `.effect-lrms-test/${dir.split("/").pop()}`
    return Shellcmd.layer({
      name: "ssh-test",
      architecture: ["x86_64", "aarch64"],
      maxCores,
      maxMemoryPerCore: "1 GiB",
      maxWalltime: "1 hour",
      spooldir: `~/${base}/spool`,
      resourceDir: `~/${base}/bookkeeping`,
    }).pipe(Layer.provide(transport()))
  },
  auth: keyAuth,
  capacityRefusal: true,
  denoTest: sshTest,
})

test("Lrms.close ends the backend's SSH connection; the next operation opens a new one", () =>
  runTest(Effect.gen(function* () {
    const base = `.effect-lrms-test/close-${crypto.randomUUID().slice(0, 8)}`
    const layer = Shellcmd.layer({
      name: "ssh-close",
      architecture: ["x86_64", "aarch64"],
      maxCores: 2,
      maxMemoryPerCore: "1 GiB",
      maxWalltime: "1 hour",
      spooldir: `~/${base}/spool`,
      resourceDir: `~/${base}/bookkeeping`,
    }).pipe(Layer.provideMerge(transport()), Layer.merge(keyAuth))
    yield* Effect.gen(function* () {
      const t = yield* Transport
      const lrms = yield* Lrms.Lrms
      // the client's port, from the server's side: a new connection has a new one
      const port = Effect.map(
        t.exec(["sh", "-c", 'echo "$SSH_CONNECTION"']),
        (r) => r.stdout.split(" ")[1],
      )
      yield* lrms.getResourceStatus
      const first = yield* port
      strictEqual(yield* port, first, "one connection while open")
      yield* lrms.close
      const second = yield* port
      ok(second !== undefined && second !== first, `a new connection: ${first} → ${second}`)
      yield* lrms.getResourceStatus // and the backend works on
      yield* t.remove(base, { recursive: true })
    }).pipe(Effect.provide(layer))
  })))

// ---- commands -----------------------------------------------------------------------------

test("exec passes argv, stdin, env and cwd unchanged, and reports exit codes and signals", () =>
  runTest(withTransport((t) =>
    Effect.gen(function* () {
      const r = yield* t.exec(
        [
          "sh",
          "-c",
          'cat; printf "|%s|%s|%s" "$1" "$GREETING" "$(pwd)"; exit 7',
          "sh",
          "a 'b' $c *",
        ],
        { stdin: "from stdin", env: { GREETING: "$HOME `id`" }, cwd: "/tmp" },
      )
      strictEqual(r.exitCode, 7)
      strictEqual(r.stdout, "from stdin|a 'b' $c *|$HOME `id`|/tmp")
      const killed = yield* t.exec(["sh", "-c", "kill -9 $$"])
      strictEqual(killed.signal, "SIGKILL")
      strictEqual(killed.exitCode, 137)
      const who = yield* t.exec(["id", "-un"])
      strictEqual(who.stdout.trim(), sshd!.keyUser)
    })
  )))

test("a command that outlives its timeout fails with Timeout and is killed", () =>
  runTest(withTransport((t) =>
    Effect.gen(function* () {
      const marker = remoteScratch("timeout")
      const started = Date.now()
      const e = yield* Effect.flip(
        t.exec(["sh", "-c", `echo $$ >${marker}; exec sleep 30`], { timeout: "500 millis" }),
      )
      strictEqual(e.reason, "Timeout")
      ok(Date.now() - started < 5000)
      yield* Effect.sleep("200 millis")
      const pid = (yield* readFileString(t, marker)).trim()
      const ps = yield* t.exec(["ps", "-o", "stat=", "-p", pid])
      ok(ps.stdout.trim() === "" || ps.stdout.trim().startsWith("Z"), `pid ${pid}: ${ps.stdout}`)
      yield* t.remove(marker)
    })
  )))

test("many concurrent commands share one connection, above sshd's MaxSessions", () =>
  runTest(withTransport((t) =>
    Effect.gen(function* () {
      const results = yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) => t.exec(["sh", "-c", `sleep 0.2; echo ${i}`]),
        { concurrency: "unbounded" },
      )
      deepStrictEqual(results.map((r) => r.stdout.trim()), results.map((_, i) => String(i)))
      // one TCP connection from us to the server
      const ss = yield* t.exec([
        "sh",
        "-c",
        `ss -Htn state established '( sport = :${sshd!.port} )' | wc -l`,
      ])
      ok(Number(ss.stdout.trim()) <= 2, `established connections: ${ss.stdout.trim()}`)
    })
  )))

// ---- host keys and credentials --------------------------------------------------------------

test("a recursive remove wins over a writer that refills the directory for a moment", () =>
  runTest(withTransport((t) => removeWhileWritten(t, remoteScratch("race")))))

test("an unknown host key is refused by default, naming host and fingerprint", async () => {
  const empty = await Deno.makeTempFile()
  try {
    const e = await runFailure(
      withTransport((t) => t.exec(["true"]), withAuth(transport({ knownHosts: empty }))),
    )
    strictEqual(e.reason, "HostKeyMismatch")
    ok(e.message.includes(`[${sshd!.host}]:${sshd!.port}`), e.message)
    ok(/SHA256:[A-Za-z0-9+/]{43}/.test(e.message), e.message)
  } finally {
    await Deno.remove(empty)
  }
})

test("a changed host key is refused, even with accept-new", async () => {
  const wrong = await Deno.makeTempFile()
  try {
    // a known_hosts line for the server with another ed25519 key
    await Deno.writeTextFile(
      wrong,
      `[${sshd!.host}]:${
        sshd!.port
      } ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`,
    )
    for (const hostKeyPolicy of ["strict", "accept-new"] as const) {
      const e = await runFailure(withTransport(
        (t) => t.exec(["true"]),
        withAuth(transport({ knownHosts: wrong, hostKeyPolicy })),
      ))
      strictEqual(e.reason, "HostKeyMismatch")
      ok(e.message.includes("changed"), e.message)
    }
  } finally {
    await Deno.remove(wrong)
  }
})

test("accept-new records an unknown key, then verifies it", async () => {
  const file = await Deno.makeTempFile()
  try {
    await runTest(
      withTransport(
        (t) => t.exec(["true"]),
        withAuth(transport({ knownHosts: file, hostKeyPolicy: "accept-new" })),
      ),
    )
    const text = await Deno.readTextFile(file)
    ok(text.startsWith(`[${sshd!.host}]:${sshd!.port} ssh-`), text)
    await runTest(withTransport((t) => t.exec(["true"]), withAuth(transport({ knownHosts: file }))))
  } finally {
    await Deno.remove(file)
  }
})

test("password login works; a wrong password fails with AuthenticationFailed, not a hang", async () => {
  const who = await runTest(withTransport(
    (t) => t.exec(["id", "-un"]),
    withAuth(transport(), Auth.password({ user: sshd!.pwUser, password: sshd!.password })),
  ))
  strictEqual(who.stdout.trim(), sshd!.pwUser)
  const started = Date.now()
  const e = await runFailure(withTransport(
    (t) => t.exec(["true"]),
    withAuth(transport(), Auth.password({ user: sshd!.pwUser, password: "wrong" })),
  ))
  strictEqual(e.reason, "AuthenticationFailed")
  ok(!e.message.includes("wrong"), "the password is not in the message")
  ok(Date.now() - started < 15_000)
})

test("RSA and ECDSA keys log in; an encrypted ECDSA key is refused when the layer is built", async () => {
  for (const keyFile of [sshd!.rsaKey, sshd!.ecdsaKey]) {
    const who = await runTest(withTransport(
      (t) => t.exec(["id", "-un"]),
      withAuth(transport(), Auth.sshKey({ user: sshd!.keyUser, keyFile })),
    ))
    strictEqual(who.stdout.trim(), sshd!.keyUser, keyFile)
  }
  const dir = await Deno.makeTempDir()
  try {
    const keygen = await new Deno.Command("ssh-keygen", {
      args: ["-q", "-t", "ecdsa", "-N", "a passphrase", "-f", `${dir}/key`],
    }).output()
    strictEqual(keygen.code, 0)
    const e = await runFailure(
      Effect.provide(
        Auth.Auth,
        Auth.sshKey({ user: sshd!.keyUser, keyFile: `${dir}/key`, passphrase: "a passphrase" }),
      ),
    )
    strictEqual(e.reason, "AuthenticationFailed")
    ok(e.message.includes("encrypted ECDSA"), e.message)
    ok(!e.message.includes("a passphrase"), "the passphrase is not in the message")
  } finally {
    await Deno.remove(dir, { recursive: true })
  }
})

test("ProxyJump from the ssh config: a real hop through the first connection", () =>
  runTest(withTransport(
    (t) =>
      Effect.gen(function* () {
        const r = yield* t.exec(["sh", "-c", "echo $SSH_CONNECTION"])
        ok(r.stdout.trim().length > 0)
      }),
    withAuth(transport({ host: "lrms-jump", port: undefined, sshConfig: sshd?.sshConfig ?? "" })),
  )))

// ---- files ----------------------------------------------------------------------------------

test("property: put then get of any tree gives back the same bytes", () =>
  runTest(Effect.gen(function* () {
    const local = yield* tempDir("lrms-ssh-tree-")
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.dictionary(
            fc.array(
              fc.oneof(
                fc.stringMatching(/^[a-zA-Z0-9 ._'"$-]{1,8}$/),
                fc.constantFrom("ü", "空 白", "it's", '"q"', "a b"),
              ).filter((s) => s !== "." && s !== ".." && !s.includes("/")),
              { minLength: 1, maxLength: 3 },
            ).map((p) => p.join("/")),
            fc.uint8Array({ maxLength: 70_000 }),
            { maxKeys: 6 },
          ),
          async (tree) => {
            const id = crypto.randomUUID().slice(0, 8)
            const src = `${local}/src-${id}`
            const back = `${local}/back-${id}`
            Deno.mkdirSync(src)
            // a name used as a file and as a directory cannot coexist: keep the first
            const written = new Map<string, Uint8Array>()
            for (const [p, bytes] of Object.entries(tree)) {
              const parts = p.split("/")
              const clash = [...written.keys()].some((w) =>
                w.startsWith(p + "/") ||
                parts.some((_, i) => written.has(parts.slice(0, i + 1).join("/")))
              )
              if (clash) continue
              Deno.mkdirSync(`${src}/${parts.slice(0, -1).join("/")}`, { recursive: true })
              Deno.writeFileSync(`${src}/${p}`, bytes)
              written.set(p, bytes)
            }
            const remote = remoteScratch("tree")
            await Effect.runPromise(
              withTransport((t) =>
                Effect.gen(function* () {
                  yield* t.put(src, remote)
                  yield* t.get(remote, back)
                  yield* t.remove(remote, { recursive: true })
                })
              ).pipe(Effect.provide(NodeContext.layer)),
            )
            for (const [p, bytes] of written) {
              deepStrictEqual(Deno.readFileSync(`${back}/${p}`), bytes)
            }
            return true
          },
        ),
        { numRuns: 15 },
      )
    )
  })))

test("property: peek over SFTP equals the byte slice", () =>
  runTest(Effect.gen(function* () {
    const remote = remoteScratch("peek")
    const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919 + (i >> 8)) & 0xff)
    yield* withTransport((t) => t.writeFile(remote, bytes))
    const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
    yield* Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: -120_000, max: 120_000 }),
          fc.option(fc.nat({ max: 120_000 }), { nil: undefined }),
          async (offset, size) => {
            const chunks: Array<Uint8Array> = []
            const n = await Effect.runPromise(
              withTransport((t) =>
                Transfer.peek(
                  t,
                  fs,
                  remote,
                  Sink.forEach((c: Uint8Array) => Effect.sync(() => chunks.push(c))),
                  {
                    offset,
                    ...(size !== undefined ? { size } : {}),
                  },
                )
              ).pipe(Effect.provide(NodeContext.layer)),
            )
            const start = offset >= 0
              ? Math.min(offset, bytes.length)
              : Math.max(0, bytes.length + offset)
            const expected = bytes.slice(start, size === undefined ? undefined : start + size)
            strictEqual(n, expected.length)
            deepStrictEqual(Transfer.concatChunks(Chunk.fromIterable(chunks)), expected)
            return true
          },
        ),
        { numRuns: 40 },
      )
    )
    yield* withTransport((t) => t.remove(remote))
  })))

test("files above the threshold go through OpenSSH scp, with the same host-key check", () =>
  runTest(Effect.gen(function* () {
    const local = yield* tempDir("lrms-ssh-bulk-")
    const bytes = Uint8Array.from({ length: 9 * 1024 * 1024 + 17 }, (_, i) => (i * 31 + 7) & 0xff)
    Deno.writeFileSync(`${local}/big`, bytes)
    const remote = remoteScratch("bulk")
    const log = () => Deno.readTextFileSync(`${sshd!.dir}/sshd.log`)
    const before = log().length
    yield* withTransport((t) =>
      Effect.gen(function* () {
        yield* t.put(`${local}/big`, remote)
        yield* t.get(remote, `${local}/back`)
        yield* t.remove(remote)
      })
    )
    deepStrictEqual(Deno.readFileSync(`${local}/back`), bytes)
    // scp logs in on a connection of its own, with the key (a second "Accepted publickey")
    const accepted = log().slice(before).match(/Accepted publickey for/g)?.length ?? 0
    ok(accepted >= 2, `logins seen: ${accepted}`)
    // with a known_hosts file that has another key for the host, scp refuses too (a put of one
    // file reaches the host only through scp), and "ignore" is passed on to it as well
    const wrong = `${local}/known_hosts`
    Deno.writeTextFileSync(
      wrong,
      `[${sshd!.host}]:${sshd!.port} ssh-ed25519 ` +
        "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n",
    )
    const e = yield* Effect.flip(
      withTransport(
        (t) => t.put(`${local}/big`, remote),
        withAuth(transport({ knownHosts: wrong })),
      ),
    )
    ok(e.message.includes("scp"), e.message)
    yield* withTransport(
      (t) => Effect.zipRight(t.put(`${local}/big`, remote), t.remove(remote)),
      withAuth(transport({ knownHosts: wrong, hostKeyPolicy: "ignore" })),
    )
    strictEqual(e.reason, "HostKeyMismatch")
  })))

test("an ssh-agent holding the key logs in (Auth.sshAgent)", async () => {
  const dir = await Deno.makeTempDir()
  const socket = `${dir}/agent.sock`
  const agent = new Deno.Command("ssh-agent", {
    args: ["-D", "-a", socket],
    stdout: "null",
    stderr: "null",
  })
    .spawn()
  try {
    for (let i = 0; i < 50 && !(await Deno.stat(socket).then(() => true, () => false)); i++) {
      await new Promise((r) => setTimeout(r, 20))
    }
    const add = await new Deno.Command("ssh-add", {
      args: [sshd!.key],
      env: { SSH_AUTH_SOCK: socket },
    })
      .output()
    strictEqual(add.code, 0, new TextDecoder().decode(add.stderr))
    const who = await runTest(withTransport(
      (t) => t.exec(["id", "-un"]),
      withAuth(transport(), Auth.sshAgent({ user: sshd!.keyUser, socket })),
    ))
    strictEqual(who.stdout.trim(), sshd!.keyUser)
  } finally {
    agent.kill("SIGTERM")
    await agent.status
    await Deno.remove(dir, { recursive: true })
  }
})

test("each credential has its own home; equal credentials share one connection", () =>
  runTest(Effect.gen(function* () {
    const pw = Auth.password({ user: sshd!.pwUser, password: sshd!.password })
    yield* Effect.gen(function* () {
      const t = yield* Transport
      const keyHome = yield* t.homeDirectory.pipe(Effect.provide(keyAuth))
      const pwHome = yield* t.homeDirectory.pipe(Effect.provide(pw))
      strictEqual(keyHome, `/home/${sshd!.keyUser}`)
      strictEqual(pwHome, `/home/${sshd!.pwUser}`)
      // three Auth layers built from the same key: one connection between them
      for (let i = 0; i < 3; i++) yield* t.exec(["true"]).pipe(Effect.provide(keyAuth))
      const ss = yield* t.exec([
        "sh",
        "-c",
        `ss -Htnp state established '( dport = :${sshd!.port} )' 2>/dev/null | wc -l`,
      ]).pipe(Effect.provide(keyAuth))
      ok(Number(ss.stdout.trim()) <= 2, `connections: ${ss.stdout.trim()}`)
    }).pipe(Effect.provide(transport()))
  })))
