/**
 * The batch flow's scripts, run by a real /bin/sh: the job script hands every argument,
 * environment value and file name to the payload unchanged, redirects its streams, runs the
 * prologue and epilogue, and dies of the payload's signal; the submit script runs many commands
 * and its output splits back into each one's exit code and output.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict"
import fc from "fast-check"
import * as Application from "../src/Application.ts"
import * as Effect from "effect/Effect"
import * as Script from "../backends/batch/Script.ts"

const app = (input: Application.ApplicationInput) => Effect.runSync(Application.make(input))

/** Runs a script fed on stdin to `/bin/sh -s`, as the transport does. */
const sh = (script: string) => {
  const child = new Deno.Command("/bin/sh", {
    args: ["-s"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn()
  const w = child.stdin.getWriter()
  w.write(new TextEncoder().encode(script)).then(() => w.close())
  return child.output()
}

const runJob = (spec: Omit<Script.JobScriptSpec, "jobDir" | "directives"> & { dir: string }) => {
  const path = `${spec.dir}/${Script.PRIVATE_DIR}/job.sh`
  Deno.mkdirSync(`${spec.dir}/${Script.PRIVATE_DIR}`, { recursive: true })
  Deno.writeTextFileSync(
    path,
    Script.renderJobScript({ ...spec, jobDir: spec.dir, directives: ["#SBATCH --comment=x"] }),
  )
  // run from elsewhere: the script must cd into the job directory itself
  return new Deno.Command("/bin/sh", { args: [path], cwd: "/", stdout: "piped", stderr: "piped" })
    .output()
}

/** Arguments that a shell would mangle if any quoting were missing. */
const nasty = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.constantFrom(
    "$HOME",
    "`id`",
    "$(id)",
    "a b",
    "'",
    '"',
    "\\",
    "*",
    "%j",
    "~",
    "-n",
    ";rm -rf x",
    "\n",
  ),
).filter((s) => !s.includes("\0"))

Deno.test("job script: arguments and environment values reach the payload byte for byte", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "lrms-script-" })
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(nasty, { maxLength: 6 }), nasty, async (args, value) => {
        const a = app({
          arguments: ["/bin/sh", "-c", 'printf "%s\\0" "$@" "$LRMS_T"', "sh", ...args],
          environment: { LRMS_T: value },
          stdout: "out.bin",
        })
        const r = await runJob({ app: a, dir })
        strictEqual(r.code, 0, new TextDecoder().decode(r.stderr))
        const got = Deno.readTextFileSync(`${dir}/out.bin`).split("\0").slice(0, -1)
        deepStrictEqual(got, [...args, value])
      }),
      { numRuns: 60 },
    )
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

Deno.test("job script: stdin, stdout, stderr and join use the application's names, in subdirectories too", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "lrms-script-" })
  try {
    Deno.writeTextFileSync(`${dir}/in put.txt`, "from stdin\n")
    const a = app({
      arguments: ["/bin/sh", "-c", "cat; echo to-err >&2"],
      stdin: "in put.txt",
      stdout: "out dir/%j $x.txt",
      stderr: "err/e.txt",
    })
    strictEqual((await runJob({ app: a, dir })).code, 0)
    strictEqual(Deno.readTextFileSync(`${dir}/out dir/%j $x.txt`), "from stdin\n")
    strictEqual(Deno.readTextFileSync(`${dir}/err/e.txt`), "to-err\n")
    const joined = app({
      arguments: ["/bin/sh", "-c", "echo out; echo err >&2"],
      stdout: "both.txt",
      join: true,
    })
    strictEqual((await runJob({ app: joined, dir })).code, 0)
    strictEqual(Deno.readTextFileSync(`${dir}/both.txt`), "out\nerr\n")
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

Deno.test("job script: exit codes pass through; a payload's signal kills the script with it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "lrms-script-" })
  try {
    const exit3 = await runJob({ app: app({ arguments: ["/bin/sh", "-c", "exit 3"] }), dir })
    strictEqual(exit3.code, 3)
    strictEqual(exit3.signal, null)
    for (const sig of ["KILL", "TERM", "SEGV"] as const) {
      const r = await runJob({
        app: app({ arguments: ["/bin/sh", "-c", `kill -s ${sig} $$`] }),
        dir,
        epilogue: "echo epilogue-ran >epi.txt",
      })
      strictEqual(r.signal, `SIG${sig}`, `payload killed by ${sig}`)
      ok(Deno.readTextFileSync(`${dir}/epi.txt`).includes("epilogue-ran"))
    }
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

Deno.test("job script: prologue runs first in the job directory, epilogue sees $lrms_rc", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "lrms-script-" })
  try {
    const r = await runJob({
      app: app({ arguments: ["/bin/sh", "-c", "cat pro.txt; exit 5"], stdout: "o.txt" }),
      dir,
      prologue: "pwd >pro.txt\n",
      epilogue: 'echo "rc=$lrms_rc" >epi.txt',
    })
    strictEqual(r.code, 5)
    strictEqual(Deno.readTextFileSync(`${dir}/o.txt`).trim(), Deno.realPathSync(dir))
    strictEqual(Deno.readTextFileSync(`${dir}/epi.txt`), "rc=5\n")
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

Deno.test("job script: directives follow the #! line; the payload cannot change the script", () => {
  const text = Script.renderJobScript({
    app: app({ arguments: ["exit", "0"] }),
    jobDir: "/x",
    directives: ["#SBATCH --constraint=gpu", "#SBATCH --comment=a"],
  })
  deepStrictEqual(text.split("\n").slice(0, 3), [
    "#!/bin/sh",
    "#SBATCH --constraint=gpu",
    "#SBATCH --comment=a",
  ])
  // `exit` is a program name here (exec'd in a subshell), never the script's builtin
  ok(text.includes("(exec 'exit' '0' </dev/null >/dev/null 2>/dev/null)"))
})

Deno.test("submit script: each command's exit code and output come back in order", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "lrms-submit-" })
  try {
    for (const d of ["a b", "2", "4", "5"]) Deno.mkdirSync(`${dir}/${d}/.lrms`, { recursive: true })
    const token = "lrms0123456789abcdef"
    const runs: Array<Script.SubmitRun> = [
      { cwd: `${dir}/a b`, argv: ["/bin/sh", "-c", "pwd; echo err >&2"] },
      { cwd: `${dir}/2`, argv: ["/bin/sh", "-c", "printf 'no newline'; exit 4"] },
      { cwd: `${dir}/missing`, argv: ["/bin/true"] },
      // a command that tries to read the script from stdin gets /dev/null
      { cwd: `${dir}/4`, argv: ["/bin/sh", "-c", `cat; echo '${token} 9 9'`] },
      { cwd: `${dir}/5`, argv: ["/bin/echo", "last"] },
    ]
    const out = await sh(Script.renderSubmitScript(token, runs))
    const results = Script.parseSubmitOutput(
      token,
      runs.length,
      new TextDecoder().decode(out.stdout),
    )
    deepStrictEqual(results[0], { exitCode: 0, output: `${Deno.realPathSync(dir)}/a b\nerr` })
    deepStrictEqual(results[1], { exitCode: 4, output: "no newline" })
    ok(results[2]!.exitCode !== 0, "cd into a missing directory fails that command only")
    strictEqual(results[3]!.exitCode, 0)
    deepStrictEqual(results[4], { exitCode: 0, output: "last" })
    // the durable record: each command's outcome is kept beside it
    strictEqual(Deno.readTextFileSync(`${dir}/2/.lrms/submit.rc`), "4\n")
    strictEqual(Deno.readTextFileSync(`${dir}/2/.lrms/submit.out`), "no newline")
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})

Deno.test("submit script: any argv survives; a cut-off output leaves the rest undefined", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(nasty, { maxLength: 4 }), { minLength: 1, maxLength: 4 }),
      async (argvs) => {
        const token = "lrmsfeedfacefeedface"
        const root = Deno.makeTempDirSync({ prefix: "lrms-submit-" })
        const runs = argvs.map((args, i) => {
          Deno.mkdirSync(`${root}/${i}/.lrms`, { recursive: true })
          return {
            cwd: `${root}/${i}`,
            argv: ["/bin/sh", "-c", 'printf "%s\\0" "$@" END', "sh", ...args],
          }
        })
        const out = await sh(Script.renderSubmitScript(token, runs))
        Deno.removeSync(root, { recursive: true })
        const results = Script.parseSubmitOutput(
          token,
          runs.length,
          new TextDecoder().decode(out.stdout),
        )
        results.forEach((r, i) => {
          strictEqual(r?.exitCode, 0)
          deepStrictEqual(r!.output.split("\0").slice(0, -2), argvs[i])
        })
      },
    ),
    { numRuns: 40 },
  )
  const cut = Script.parseSubmitOutput("T", 3, "Submitted batch job 1\n\nT 0 0\nSubmitted batch")
  deepStrictEqual(cut, [{ exitCode: 0, output: "Submitted batch job 1" }, undefined, undefined])
})

Deno.test("submit record: a reader's claim stops a late submit; ended, running and cut ones are told apart", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "lrms-record-" })
  const decode = (b: Uint8Array) => new TextDecoder().decode(b)
  const marker = `${dir}/ran`
  const runs = () => {
    try {
      return Deno.readTextFileSync(marker).split("\n").filter((l) => l !== "").length
    } catch {
      return 0
    }
  }
  const submit = (cwd: string) => ({
    cwd,
    argv: ["/bin/sh", "-c", `echo x >> '${marker}'; echo Submitted batch job 7`],
  })
  const read = async (d: string) =>
    Script.parseSubmitRecord(decode((await sh(Script.renderRecordScript(d))).stdout))
  try {
    // never ran: the reader claims it, and the submit script, arriving late, runs nothing
    Deno.mkdirSync(`${dir}/a/.lrms`, { recursive: true })
    deepStrictEqual(await read(`${dir}/a`), { _tag: "Claimed" })
    const late = Script.parseSubmitOutput(
      "T",
      1,
      decode((await sh(Script.renderSubmitScript("T", [submit(`${dir}/a`)]))).stdout),
    )
    deepStrictEqual(late[0], { exitCode: 125, output: "claimed" })
    strictEqual(runs(), 0, "the claimed submission never runs")
    // ran to its end: its exit code and output are read back, and it ran once
    Deno.mkdirSync(`${dir}/b/.lrms`, { recursive: true })
    await sh(Script.renderSubmitScript("T", [submit(`${dir}/b`)]))
    deepStrictEqual(await read(`${dir}/b`), {
      _tag: "Done",
      exitCode: 0,
      output: "Submitted batch job 7\n",
    })
    strictEqual(runs(), 1)
    // started, and its shell is alive: running; its shell died before the end: cut
    Deno.mkdirSync(`${dir}/c/.lrms/submit.claim`, { recursive: true })
    const alive = new Deno.Command("sleep", { args: ["30"] }).spawn()
    Deno.writeTextFileSync(`${dir}/c/.lrms/submit.pid`, `${alive.pid}\n`)
    deepStrictEqual(await read(`${dir}/c`), { _tag: "Running" })
    alive.kill("SIGKILL")
    await alive.status
    Deno.writeTextFileSync(`${dir}/c/.lrms/submit.out`, "Submitted batch")
    deepStrictEqual(await read(`${dir}/c`), { _tag: "Cut", output: "Submitted batch", ran: false })
    // once the scheduler's own files exist, the job has started somewhere
    Deno.writeTextFileSync(`${dir}/c/.lrms/scheduler.out`, "")
    deepStrictEqual(await read(`${dir}/c`), { _tag: "Cut", output: "Submitted batch", ran: true })
    deepStrictEqual(await read(`${dir}/missing`), { _tag: "Gone" })
    // a submit script cut short in transit runs nothing
    Deno.mkdirSync(`${dir}/d/.lrms`, { recursive: true })
    const whole = Script.renderSubmitScript("T", [submit(`${dir}/d`)])
    for (const cut of [whole.length - 2, Math.floor(whole.length / 2), 40]) {
      await sh(whole.slice(0, cut))
    }
    strictEqual(runs(), 1, "no truncated script ran its command")
  } finally {
    Deno.removeSync(dir, { recursive: true })
  }
})
