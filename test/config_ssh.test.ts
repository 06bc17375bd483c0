/**
 * Config → Resources over the test sshd: `ignore_ssh_host_keys = no` keeps host keys checked (an
 * unknown key is refused), `yes` trusts any key. Skipped, with the reason printed, when the
 * server is down.
 */
import { ok, strictEqual } from "node:assert/strict"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Resources from "../backends/Resources.ts"
import * as Gc3pieConfig from "../src/Gc3pieConfig.ts"
import { Lrms } from "../src/Lrms.ts"
import { runFailure, runTest } from "./_effect.ts"
import { keyAuth, sshd, sshTest } from "./_sshd.ts"

const statusWith = async (value: string) => {
  const dir = await Deno.makeTempDir()
  // an ssh config whose known_hosts file is empty: the server's key is unknown
  await Deno.writeTextFile(`${dir}/known_hosts`, "")
  await Deno.writeTextFile(`${dir}/ssh_config`, `UserKnownHostsFile ${dir}/known_hosts\n`)
  const text = `[resource/r]\ntype = shellcmd\ntransport = ssh\nfrontend = ${sshd?.host}\n` +
    `port = ${sshd?.port}\nssh_config = ${dir}/ssh_config\nmax_cores = 2\n` +
    `max_memory_per_core = 1 GB\nmax_walltime = 1 hour\narchitecture = x86_64, aarch64\n` +
    `spooldir = .effect-lrms-test/config-ssh-${crypto.randomUUID().slice(0, 8)}\n` +
    `ignore_ssh_host_keys = ${value}\n`
  const spec = Effect.runSync(Gc3pieConfig.parse(text, `${dir}/gc3pie.conf`)).resources[0]!
  const program = Effect.flatMap(Lrms, (lrms) => lrms.getResourceStatus).pipe(
    Effect.provide(Layer.merge(Resources.lrmsLayer(spec), keyAuth)),
  )
  return { program, cleanup: () => Deno.remove(dir, { recursive: true }) }
}

Deno.test({
  name: "config+ssh: ignore_ssh_host_keys = no refuses an unknown host key",
  ...sshTest,
  fn: async () => {
    const { program, cleanup } = await statusWith("no")
    try {
      const e = await runFailure(program)
      strictEqual(e.reason, "HostKeyMismatch", e.message)
    } finally {
      await cleanup()
    }
  },
})

Deno.test({
  name: "config+ssh: ignore_ssh_host_keys = yes trusts an unknown host key",
  ...sshTest,
  fn: async () => {
    const { program, cleanup } = await statusWith("yes")
    try {
      const status = await runTest(program)
      ok(status !== undefined)
    } finally {
      await cleanup()
    }
  },
})
