/**
 * Connecting, without a server: a host that accepts TCP but never speaks SSH.
 */
import { ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SshTransport from "../backends/ssh/SshTransport.ts"
import * as Auth from "../src/Auth.ts"
import { Transport } from "../src/Transport.ts"
import { runTest } from "./_effect.ts"

Deno.test({
  name: "ssh: an interrupted connect leaves later calls free to fail on their own, never hanging",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 })
    const held: Array<Deno.Conn> = []
    const accepting = (async () => {
      for await (const conn of listener) held.push(conn) // accept, then say nothing
    })()
    try {
      const port = (listener.addr as Deno.NetAddr).port
      const layer = Layer.merge(
        SshTransport.layer({
          host: "127.0.0.1",
          port,
          sshConfig: "/dev/null",
          knownHosts: "/dev/null",
          connectTimeout: "1 second",
        }),
        Auth.password({ user: "nobody", password: "x" }),
      )
      await runTest(
        Effect.gen(function* () {
          const t = yield* Transport
          const first = yield* Effect.either(t.exec(["true"]).pipe(Effect.timeout("200 millis")))
          strictEqual(first._tag, "Left")
          const started = Date.now()
          const second = yield* Effect.either(t.exec(["true"]))
          ok(second._tag === "Left", "a silent host cannot run a command")
          if (second._tag === "Left") {
            ok(
              second.left.reason === "Timeout" || second.left.reason === "ConnectionLost",
              second.left.message,
            )
          }
          ok(Date.now() - started < 15_000, `failed in ${Date.now() - started} ms, not hung`)
        }).pipe(Effect.provide(layer)),
      )
    } finally {
      listener.close()
      for (const c of held) c.close()
      await accepting.catch(() => {})
    }
  },
})
