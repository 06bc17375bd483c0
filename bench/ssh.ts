/**
 * Benchmark of the SSH transport against OpenSSH on loopback (the test sshd of
 * test/services/sshd-up.sh must be up):
 *
 *   (a) sequential `true` commands (best of 3 rounds each): our pooled connection vs. `ssh`
 *       through a ControlMaster socket vs. a fresh `ssh` per command; ours runs /usr/bin/true
 *       (argv semantics: `exec 'true'`), while `ssh host true` runs the login shell's builtin;
 *   (b) a 256 MiB file: get and put vs. `scp`;
 *   (c) 100 concurrent commands over our connection.
 *
 *   deno run -A bench/ssh.ts [commands=500] [megabytes=256]
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { quote } from "../src/Shell.ts"
import { Transport } from "../src/Transport.ts"
import { skipReason, sshd, transport, withAuth } from "../test/_sshd.ts"

if (sshd === undefined) {
  console.error(`cannot run: ${skipReason}`)
  Deno.exit(1)
}
const commands = Number(Deno.args[0] ?? 500)
const megabytes = Number(Deno.args[1] ?? 256)
const fresh = Math.min(commands, 30)

const sshArgs = [
  "-p",
  String(sshd.port),
  "-i",
  sshd.key,
  "-o",
  "IdentitiesOnly=yes",
  "-o",
  `UserKnownHostsFile=${sshd.knownHosts}`,
  "-o",
  "StrictHostKeyChecking=yes",
  "-o",
  "BatchMode=yes",
]
const target = `${sshd.keyUser}@${sshd.host}`

const timeSync = (f: () => void): number => {
  const t0 = performance.now()
  f()
  return (performance.now() - t0) / 1000
}

const run = (cmd: string, args: ReadonlyArray<string>) => {
  const r = new Deno.Command(cmd, { args: [...args], stdout: "null", stderr: "piped" }).outputSync()
  if (!r.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`)
}

// ---- (a) sequential commands ----------------------------------------------------------------
const control = `${Deno.makeTempDirSync()}/cm`
run("ssh", [
  ...sshArgs,
  "-o",
  "ControlMaster=yes",
  "-o",
  `ControlPath=${control}`,
  "-o",
  "ControlPersist=60",
  "-f",
  "-N",
  target,
])
const rounds = 3
const best = (f: () => number) => Math.min(...Array.from({ length: rounds }, f))
const viaMaster = (command: string) =>
  best(() =>
    timeSync(() => {
      for (let i = 0; i < commands; i++) {
        run("ssh", [...sshArgs, "-o", `ControlPath=${control}`, target, command])
      }
    })
  )
const openssh = viaMaster("true")
const opensshBinary = viaMaster("/usr/bin/true")
run("ssh", [...sshArgs, "-o", `ControlPath=${control}`, "-O", "exit", target])
const freshTime = timeSync(() => {
  for (let i = 0; i < fresh; i++) run("ssh", [...sshArgs, target, "true"])
})

const layer = withAuth(transport())
const ours = await Effect.runPromise(
  Effect.gen(function* () {
    const t = yield* Transport
    yield* t.exec(["true"]) // connect once before the clock starts
    let sequential = Infinity
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now()
      for (let i = 0; i < commands; i++) yield* t.exec(["true"])
      sequential = Math.min(sequential, (performance.now() - t0) / 1000)
    }
    const t1 = performance.now()
    yield* Effect.forEach(Array.from({ length: 100 }), () => t.exec(["true"]), {
      concurrency: "unbounded",
    })
    const concurrent = (performance.now() - t1) / 1000
    // ---- (b) bulk transfer ----------------------------------------------------------------
    const local = Deno.makeTempDirSync()
    const remote = `/tmp/lrms-bench-${crypto.randomUUID().slice(0, 8)}`
    yield* t.exec(["sh", "-c", `head -c ${megabytes * 1048576} /dev/urandom >${quote(remote)}`])
    const scpArgs = sshArgs.map((a) => (a === "-p" ? "-P" : a))
    const timed = <E, R>(e: Effect.Effect<unknown, E, R>) =>
      Effect.map(Effect.timed(e), ([d]) => Duration.toMillis(d) / 1000)
    // best of 3 rounds each, alternating ours and scp's
    let get = Infinity, put = Infinity, scpGet = Infinity, scpPut = Infinity
    for (let r = 0; r < rounds; r++) {
      get = Math.min(get, yield* timed(t.get(remote, `${local}/down`)))
      scpGet = Math.min(
        scpGet,
        timeSync(() => run("scp", ["-q", ...scpArgs, `${target}:${remote}`, `${local}/scp`])),
      )
      put = Math.min(put, yield* timed(t.put(`${local}/down`, `${remote}.up`)))
      scpPut = Math.min(
        scpPut,
        timeSync(() => run("scp", ["-q", ...scpArgs, `${local}/scp`, `${target}:${remote}.scp`])),
      )
    }
    yield* t.exec(["rm", "-f", remote, `${remote}.up`, `${remote}.scp`])
    Deno.removeSync(local, { recursive: true })
    return { sequential, concurrent, get, put, scpGet, scpPut }
  }).pipe(Effect.provide(layer), Effect.provide(NodeContext.layer)),
)

const rate = (n: number, s: number) => `${(n / s).toFixed(0)}/s`
const mbs = (s: number) => `${(megabytes / s).toFixed(0)} MiB/s`
console.log(`(a) ${commands} sequential \`true\` commands, best of ${rounds} rounds`)
console.log(
  `  effect-lrms, pooled connection:   ${ours.sequential.toFixed(2)} s  ${
    rate(commands, ours.sequential)
  }`,
)
console.log(
  `  OpenSSH ssh through ControlMaster: ${openssh.toFixed(2)} s  ${rate(commands, openssh)}`,
)
console.log(
  `  same, running /usr/bin/true as we do: ${opensshBinary.toFixed(2)} s  ${
    rate(commands, opensshBinary)
  }; ratio ${(opensshBinary / ours.sequential).toFixed(1)}x`,
)
console.log(`  OpenSSH ssh, fresh connection (${fresh} runs): ${rate(fresh, freshTime)}`)
console.log(`  ratio to ControlMaster: ${(openssh / ours.sequential).toFixed(1)}x`)
console.log(
  `  ratio to fresh ssh:     ${
    ((fresh / freshTime) ** -1 / (ours.sequential / commands)).toFixed(0)
  }x`,
)
console.log(`(b) ${megabytes} MiB file, best of ${rounds} rounds`)
console.log(
  `  get: effect-lrms ${ours.get.toFixed(2)} s ${mbs(ours.get)}; scp ${ours.scpGet.toFixed(2)} s ${
    mbs(ours.scpGet)
  }; ratio ${(ours.scpGet / ours.get).toFixed(2)}`,
)
console.log(
  `  put: effect-lrms ${ours.put.toFixed(2)} s ${mbs(ours.put)}; scp ${ours.scpPut.toFixed(2)} s ${
    mbs(ours.scpPut)
  }; ratio ${(ours.scpPut / ours.put).toFixed(2)}`,
)
console.log(
  `(c) 100 concurrent commands: ${ours.concurrent.toFixed(2)} s  ${rate(100, ours.concurrent)}`,
)
