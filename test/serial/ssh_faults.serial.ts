/**
 * Fault tests of the SSH transport: they drop, stop and restart the test sshd, so they run on
 * their own, after the parallel tests (see the `test` task), never beside other SSH tests.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import * as FileSystem from "@effect/platform/FileSystem"
import { NodeContext } from "@effect/platform-node"
import * as Effect from "effect/Effect"
import * as Transfer from "../../src/Transfer.ts"
import { Transport } from "../../src/Transport.ts"
import { runTest, tempDir } from "../_effect.ts"
import { sshdCtl, sshTest, transport, withAuth } from "../_sshd.ts"

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name: `ssh faults: ${name}`, ...sshTest, fn })

const remoteScratch = (tag: string) => `/tmp/lrms-ssh-${tag}-${crypto.randomUUID().slice(0, 8)}`

// ---- faults ---------------------------------------------------------------------------------

test("a connection dropped mid-download fails with ConnectionLost, leaves no partial file, and the next call reconnects", () =>
  runTest(Effect.gen(function* () {
    const local = yield* tempDir("lrms-ssh-drop-")
    const remote = remoteScratch("big")
    const fs = yield* Effect.provide(FileSystem.FileSystem, NodeContext.layer)
    const layer = withAuth(transport())
    yield* Effect.gen(function* () {
      const t = yield* Transport
      yield* t.exec(["sh", "-c", `head -c 268435456 /dev/urandom >${remote}`])
      const download = Transfer.downloadAtomically(t, fs, remote, `${local}/big`)
      const fiber = yield* Effect.fork(Effect.either(download))
      yield* Effect.sleep("300 millis")
      yield* Effect.sync(() => sshdCtl("drop"))
      const result = yield* fiber.await
      ok(result._tag === "Success" && result.value._tag === "Left", "the download failed")
      if (result._tag === "Success" && result.value._tag === "Left") {
        strictEqual(result.value.left.reason, "ConnectionLost")
        strictEqual(result.value.left.recoverable, true)
      }
      deepStrictEqual([...Deno.readDirSync(local)].map((e) => e.name), [], "no partial file")
      // with sshd stopped, a call fails the same recoverable way (after its bounded retries)
      yield* Effect.sync(() => sshdCtl("stop"))
      const down = yield* Effect.flip(t.exec(["true"]))
      ok(down.reason === "ConnectionLost" || down.reason === "Timeout", down.message)
      strictEqual(down.recoverable, true)
      yield* Effect.sync(() => sshdCtl("start"))
      // once sshd is back, a retry reconnects and the download completes (a call that lands on
      // the dying connection before ssh2 has seen it close fails, recoverably, and is retried)
      let attempts = 0
      yield* Effect.suspend(() => {
        attempts++
        return Transfer.downloadAtomically(t, fs, remote, `${local}/big`)
      }).pipe(Effect.retry({ times: 3, while: (e) => e.recoverable }))
      ok(attempts <= 2, `attempts: ${attempts}`)
      strictEqual(Deno.statSync(`${local}/big`).size, 268435456)
      yield* t.remove(remote)
    }).pipe(
      Effect.provide(layer),
      // whatever happened, leave sshd running for whatever runs next
      Effect.ensuring(Effect.sync(() => sshdCtl("start"))),
    )
  })))
